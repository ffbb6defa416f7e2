import { IntegrityError } from '../../core/errors.js';
import { open, seal } from '../crypto/aead.js';

/** Seals a JSON document; `kind` (e.g. "snapshot") is bound as associated data. */
export function sealJson(key: Uint8Array, kind: string, value: unknown): Buffer {
  return seal(key, Buffer.from(JSON.stringify(value)), aadOf(kind));
}

/** Opens a document sealed by {@link sealJson} for the same `kind`; `IntegrityError` otherwise. */
export function openJson<T>(key: Uint8Array, kind: string, sealed: Uint8Array): T {
  const plain = open(key, sealed, aadOf(kind));
  try {
    return JSON.parse(plain.toString('utf8')) as T;
  } catch (cause) {
    throw new IntegrityError(`${kind} is not valid JSON`, { cause });
  }
}

function aadOf(kind: string): Buffer {
  return Buffer.from(`ferry ${kind} v1`);
}
