/**
 * The gear table of the content-defined chunker. It is keyed by the repository secret so that the
 * chunk boundaries of a file (and so the chunk sizes an observer of the storage sees) do not fingerprint
 * known content across repositories.
 */
import { hkdfSync } from 'node:crypto';

/** HKDF `info` string; a new derivation must change it, because existing repositories depend on it. */
const GEAR_TABLE_INFO = 'ferry gear table v1';
const ENTRIES = 256;

/**
 * Derives the 256-entry gear table of a repository from its secret.
 *
 * The table is `HKDF-SHA256(ikm = secret, salt = empty, info = "ferry gear table v1", L = 1024)` read as
 * 256 little-endian unsigned 32-bit integers. The derivation is part of the repository format: the same
 * secret must always produce the same table, on any platform, or deduplication against existing
 * chunks is lost.
 *
 * @param secret the repository's chunker secret; any length HKDF accepts (an empty secret is allowed but
 *   gives a table shared by every repository that uses it, so callers should not do that).
 * @returns a new table the caller owns.
 */
export function gearTableFromSecret(secret: Uint8Array): Uint32Array {
  const bytes = hkdfSync('sha256', secret, Buffer.alloc(0), GEAR_TABLE_INFO, ENTRIES * 4);
  // A DataView, not a Uint32Array over the bytes, so the result does not depend on host endianness.
  const view = new DataView(bytes);
  const table = new Uint32Array(ENTRIES);
  for (let i = 0; i < ENTRIES; i++) table[i] = view.getUint32(i * 4, true);
  return table;
}
