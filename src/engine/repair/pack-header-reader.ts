import { IntegrityError, withContext } from '../../core/errors.js';
import { shortId, type Id } from '../../core/ids.js';
import type { Storage } from '../../storage/storage.js';
import { SEAL_OVERHEAD } from '../crypto/aead.js';
import { sha256Id } from '../crypto/sha256.js';
import { openPackHeader, openSealedPackHeader, PACK_TRAILER_BYTES, type PackedBlob } from '../pack/pack-format.js';

/** The smallest sealed header: version byte and blob count, no entries, plus the seal's nonce and tag. */
const MIN_SEALED_HEADER = SEAL_OVERHEAD + 5;

/**
 * Reads the blob list of the pack stored under `key` without downloading its blobs: two ranged loads,
 * the 4-byte trailer and then the sealed header it points to. `size` is the object's size as listed.
 *
 * The header must authenticate under `encryptionKey` and decode (section 8 of the format), and the
 * blobs it lists must exactly fill the bytes before it, so a truncated or extended pack is refused.
 * Blob bytes and the pack's hash are not checked (see {@link readWholePackHeader}).
 * Throws `IntegrityError` naming the pack for any inconsistency; storage errors (`NotFoundError`, …)
 * propagate with the pack named. Reads only; safe to run concurrently.
 */
export async function readPackHeader(storage: Storage, key: string, encryptionKey: Uint8Array, packId: Id, size: number): Promise<PackedBlob[]> {
  try {
    if (size < PACK_TRAILER_BYTES + MIN_SEALED_HEADER) throw new IntegrityError(`has ${size} bytes, too few for a header`);
    const trailer = await storage.load(key, { offset: size - PACK_TRAILER_BYTES, length: PACK_TRAILER_BYTES });
    const headerLength = trailer.readUInt32LE(0);
    const headerStart = size - PACK_TRAILER_BYTES - headerLength;
    if (headerLength < MIN_SEALED_HEADER || headerStart < 0) throw new IntegrityError(`its trailer gives an impossible header length ${headerLength}`);
    const sealed = await storage.load(key, { offset: headerStart, length: headerLength });
    return openSealedPackHeader(encryptionKey, sealed, headerStart);
  } catch (err) {
    throw withContext(`pack ${shortId(packId)}`, err);
  }
}

/**
 * Reads the whole pack, requires its SHA-256 to equal `packId`, then opens its header with the same
 * checks as {@link readPackHeader}. Costs a full download; throws `IntegrityError` naming the pack.
 */
export async function readWholePackHeader(storage: Storage, key: string, encryptionKey: Uint8Array, packId: Id): Promise<PackedBlob[]> {
  try {
    const bytes = await storage.load(key);
    if (sha256Id(bytes) !== packId) throw new IntegrityError('its bytes do not match its name (SHA-256)');
    return openPackHeader(encryptionKey, bytes);
  } catch (err) {
    throw withContext(`pack ${shortId(packId)}`, err);
  }
}
