import { hkdfSync, randomBytes } from 'node:crypto';

export const MASTER_SECRET_BYTES = 32;

/**
 * The keys of one repository, all derived from a random 32-byte master secret with HKDF-SHA-256.
 * The master secret lives only inside key slots (wrapped by a passphrase) and in memory.
 */
export class MasterKey {
  /** AES-256-GCM key for every sealed object and blob. */
  readonly encryptionKey: Buffer;
  /** Key of the HMAC-SHA-256 that names chunks and trees. */
  readonly contentIdKey: Buffer;
  /** Secret from which the chunker's gear table is derived. */
  readonly chunkerSecret: Buffer;

  private constructor(readonly secret: Buffer) {
    this.encryptionKey = derive(secret, 'ferry encryption v1');
    this.contentIdKey = derive(secret, 'ferry content id v1');
    this.chunkerSecret = derive(secret, 'ferry chunker v1');
  }

  static generate(): MasterKey {
    return new MasterKey(randomBytes(MASTER_SECRET_BYTES));
  }

  static fromSecret(secret: Uint8Array): MasterKey {
    if (secret.length !== MASTER_SECRET_BYTES) throw new RangeError('a master secret has 32 bytes');
    return new MasterKey(Buffer.from(secret));
  }
}

function derive(secret: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), info, 32));
}
