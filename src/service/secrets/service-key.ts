import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { IntegrityError, PermanentError, UserError, isErrno } from '../../core/errors.js';
import type { RandomSource } from '../../core/random.js';
import { writeFileDurably } from '../../os/durable-file.js';

/** The service key's file in the data directory when `--service-key-file` is not given. */
export const SERVICE_KEY_FILE = 'service.key';

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** A sealed secret is `fsk1.<key id>.<base64 of nonce | ciphertext | tag>`; base64 has no `.`, so a plain base64 secret never looks sealed. */
const SEALED_PREFIX = 'fsk1.';

/**
 * The service's own key: seals the secrets the database keeps (escrowed disk keys) with AES-256-GCM, the
 * record they belong to as associated data (a sealed value copied to another record does not open).
 * Its `id` (16 hex digits, from an HMAC of the key) is stored with every sealed value and in the
 * database's `service_keys`, so a wrong key is named as such instead of failing on each secret.
 */
export class ServiceKey {
  readonly id: string;
  readonly #key: Buffer;

  constructor(key: Uint8Array) {
    if (key.length !== KEY_BYTES) throw new RangeError(`a service key has ${KEY_BYTES} bytes, got ${key.length}`);
    this.#key = Buffer.from(key);
    this.id = createHmac('sha256', this.#key).update('ferry service key id').digest('hex').slice(0, 16);
  }

  /** Seals `secret` for the record named by `associated` (e.g. the disk id); a fresh random nonce each time. */
  seal(secret: Uint8Array, associated: string, random: RandomSource): string {
    const nonce = random.bytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce);
    cipher.setAAD(Buffer.from(associated, 'utf8'));
    const sealed = Buffer.concat([nonce, cipher.update(secret), cipher.final(), cipher.getAuthTag()]);
    return `${SEALED_PREFIX}${this.id}.${sealed.toString('base64')}`;
  }

  /**
   * Opens what {@link seal} made for `associated`. `IntegrityError` when the value was sealed with another
   * key (its id says so), for another record, or was changed.
   */
  open(sealed: string, associated: string): Buffer {
    const [, keyId, body] = /^fsk1\.([0-9a-f]{16})\.([A-Za-z0-9+/=]+)$/.exec(sealed) ?? [];
    if (keyId === undefined || body === undefined) throw new IntegrityError('a sealed secret in the database is malformed');
    if (keyId !== this.id) throw new IntegrityError(`a secret in the database was sealed with service key ${keyId}, not with this service's key ${this.id}`);
    const bytes = Buffer.from(body, 'base64');
    if (bytes.length < NONCE_BYTES + TAG_BYTES) throw new IntegrityError('a sealed secret in the database is too short');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, bytes.subarray(0, NONCE_BYTES));
    decipher.setAAD(Buffer.from(associated, 'utf8'));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)), decipher.final()]);
    } catch (err) {
      throw new IntegrityError(`a sealed secret in the database does not open with service key ${this.id} (changed, or moved to another record)`, { cause: err });
    }
  }
}

/** True when `value` is a sealed secret (not a legacy plain one). */
export function isSealed(value: string): boolean {
  return value.startsWith(SEALED_PREFIX);
}

/**
 * Reads a service key file: one line, the base64 of 32 bytes. `NotFound` is reported as undefined; a file
 * that is not a service key is a `UserError` saying so.
 */
export async function readServiceKeyFile(path: string): Promise<ServiceKey | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw new UserError(`cannot read the service key file ${path}: ${(err as Error).message}`, { cause: err });
  }
  const line = text.trim();
  const bytes = Buffer.from(line, 'base64');
  if (!/^[A-Za-z0-9+/]{43}=$/.test(line) || bytes.length !== KEY_BYTES) {
    throw new UserError(`${path} is not a Ferry service key (expected one line: the base64 of ${KEY_BYTES} random bytes)`);
  }
  return new ServiceKey(bytes);
}

/**
 * Creates a new service key file at `path` with mode 0600, atomically and durably: written to a temp file,
 * fsynced, linked into place (never replacing an existing file: `AlreadyExists` is a `PermanentError`),
 * the directory fsynced. Returns the new key.
 */
export async function createServiceKeyFile(path: string, random: RandomSource): Promise<ServiceKey> {
  const key = random.bytes(KEY_BYTES);
  try {
    await writeFileDurably(path, `${key.toString('base64')}\n`, { mode: 0o600, replace: false });
  } catch (err) {
    throw new PermanentError(`cannot create the service key file ${path}: ${(err as Error).message}`, { cause: err });
  }
  return new ServiceKey(key);
}
