import { randomBytes } from 'node:crypto';
import { IntegrityError } from '../../core/errors.js';
import { open, seal } from './aead.js';
import { MASTER_SECRET_BYTES, MasterKey } from './master-key.js';
import { scrypt } from './scrypt.js';

/** scrypt cost parameters, stored in each key slot so they can differ per slot and change over time. */
export interface KdfParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/**
 * The parameters of every new key slot: 32 MiB of memory (N = 2^15, r = 8) and five sequential passes
 * (p = 5), about 0.45 s on this class of machine; restic's own calibration (within 60 MiB, about half a
 * second) picks the same parameters here. Slots made before with {@link PREVIOUS_DEFAULT_KDF} keep
 * opening with their stored parameters. docs/repository-format.md section 4 gives the reasoning and
 * what a password-guessing attacker pays per guess.
 */
export const DEFAULT_KDF: KdfParams = { N: 2 ** 15, r: 8, p: 5 };
/** The default until December 2026 (128 MiB, one pass): still read, no longer written. */
export const PREVIOUS_DEFAULT_KDF: KdfParams = { N: 2 ** 17, r: 8, p: 1 };
/** For tests only: fast and weak. */
export const INSECURE_TEST_KDF: KdfParams = { N: 2 ** 10, r: 8, p: 1 };

const SLOT_AAD = Buffer.from('ferry key slot v1');
/** Slot parameters are not authenticated: cap what a tampered slot can make us allocate. */
const MAX_KDF_MEMORY = 1024 * 1024 * 1024;

/** The JSON document stored as `keys/<id>`: the master secret wrapped by a passphrase-derived key. */
export interface KeySlotFile {
  readonly version: 1;
  readonly created: string;
  readonly hostname: string;
  readonly username: string;
  readonly kdf: { readonly algorithm: 'scrypt'; readonly N: number; readonly r: number; readonly p: number; readonly salt: string };
  /** base64 of seal(kek, master secret). */
  readonly wrapped: string;
}

export interface SlotMetadata {
  readonly created: Date;
  readonly hostname: string;
  readonly username: string;
}

/** Wraps `master` under `password`; returns the bytes of a new key slot file. */
export async function createKeySlot(master: MasterKey, password: string, kdf: KdfParams, meta: SlotMetadata): Promise<Buffer> {
  const salt = randomBytes(32);
  const kek = await deriveKek(password, salt, kdf);
  const file: KeySlotFile = {
    version: 1,
    created: meta.created.toISOString(),
    hostname: meta.hostname,
    username: meta.username,
    kdf: { algorithm: 'scrypt', N: kdf.N, r: kdf.r, p: kdf.p, salt: salt.toString('base64') },
    wrapped: seal(kek, master.secret, SLOT_AAD).toString('base64'),
  };
  return Buffer.from(JSON.stringify(file, null, 2) + '\n');
}

/**
 * Unwraps the master key of a slot. Returns undefined when the password does not open it;
 * throws `IntegrityError` when the slot file is not a valid key slot.
 */
export async function openKeySlot(bytes: Uint8Array, password: string): Promise<MasterKey | undefined> {
  const file = parseKeySlot(bytes);
  const kek = await deriveKek(password, Buffer.from(file.kdf.salt, 'base64'), file.kdf);
  let secret: Buffer;
  try {
    secret = open(kek, Buffer.from(file.wrapped, 'base64'), SLOT_AAD);
  } catch (err) {
    if (err instanceof IntegrityError) return undefined;
    throw err;
  }
  if (secret.length !== MASTER_SECRET_BYTES) throw new IntegrityError(`key slot holds a ${secret.length}-byte secret, expected ${MASTER_SECRET_BYTES}`);
  return MasterKey.fromSecret(secret);
}

export function parseKeySlot(bytes: Uint8Array): KeySlotFile {
  let file: KeySlotFile;
  try {
    file = JSON.parse(Buffer.from(bytes).toString('utf8')) as KeySlotFile;
  } catch (cause) {
    throw new IntegrityError('key slot is not valid JSON', { cause });
  }
  const kdf = file?.kdf;
  const valid =
    file?.version === 1 &&
    kdf?.algorithm === 'scrypt' &&
    Number.isInteger(kdf.N) && kdf.N >= 2 && kdf.N <= 2 ** 24 && (kdf.N & (kdf.N - 1)) === 0 &&
    Number.isInteger(kdf.r) && kdf.r >= 1 && kdf.r <= 64 &&
    Number.isInteger(kdf.p) && kdf.p >= 1 && kdf.p <= 16 &&
    kdf.N < 2 ** (16 * kdf.r) && 128 * kdf.N * kdf.r * kdf.p <= MAX_KDF_MEMORY &&
    typeof kdf.salt === 'string' && typeof file.wrapped === 'string';
  if (!valid) throw new IntegrityError('key slot has an unknown version or invalid parameters');
  return file;
}

function deriveKek(password: string, salt: Buffer, kdf: KdfParams): Promise<Buffer> {
  const maxmem = 256 * kdf.N * kdf.r * kdf.p + 32 * 1024 * 1024;
  return scrypt(password.normalize('NFC'), salt, 32, kdf, maxmem);
}
