/**
 * Protecting one segment of a disk file (docs/disk-format.md, section 5): an encrypted segment is
 * AES-256-GCM ciphertext and tag; any other segment keeps its bytes (repository ciphertext already) and
 * gets a GMAC tag, AES-256-GCM with the bytes as associated data and nothing to encrypt. Both under the
 * file key with the segment's nonce, both binding the segment's place.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { IntegrityError } from '../core/errors.js';
import { isEncryptedSegment, segmentAad, segmentCount, segmentNonce, TAG_BYTES } from './disk-format.js';

/** Where a segment belongs: what its nonce and associated data bind it to (docs/disk-format.md, section 5). */
export interface SegmentPlace {
  readonly diskId: string;
  readonly path: string;
  readonly fileId: Uint8Array;
  readonly index: number;
  readonly final: boolean;
  /** Whether the segment is encrypted (`isEncryptedSegment`); otherwise it is only authenticated. */
  readonly encrypted: boolean;
}

/** The place of segment `index` of the file `path` of `size` bytes with file id `fileId` on disk `diskId`. */
export function segmentPlace(file: { readonly diskId: string; readonly path: string; readonly fileId: Uint8Array; readonly size: number }, segmentSize: number, index: number): SegmentPlace {
  return {
    diskId: file.diskId,
    path: file.path,
    fileId: file.fileId,
    index,
    final: index === segmentCount(file.size, segmentSize) - 1,
    encrypted: isEncryptedSegment(file.size, segmentSize, index),
  };
}

/**
 * Protects one segment under the file key: the bytes to write (the ciphertext of an encrypted segment,
 * else `plaintext` itself, not copied) and its 16-byte tag. The record on the disk is both, in that order.
 */
export function sealSegment(fileKey: Uint8Array, plaintext: Uint8Array, place: SegmentPlace): { body: Uint8Array; tag: Buffer } {
  const cipher = createCipheriv('aes-256-gcm', fileKey, segmentNonce(place.fileId, place.index));
  cipher.setAAD(segmentAad(place.diskId, place.index, place.final, place.encrypted, place.path));
  if (!place.encrypted) {
    cipher.setAAD(plaintext);
    cipher.final();
    return { body: plaintext, tag: cipher.getAuthTag() };
  }
  const ciphertext = cipher.update(plaintext);
  const rest = cipher.final();
  return { body: rest.length === 0 ? ciphertext : Buffer.concat([ciphertext, rest]), tag: cipher.getAuthTag() };
}

/**
 * Checks one segment read from a disk, its `body` and `tag` apart: the plaintext (for a segment that is
 * only authenticated, `body` itself, not copied; else a new buffer). `IntegrityError` when it does not
 * authenticate for `place` (altered, moved, truncated, or sealed under another key).
 */
export function openSegment(fileKey: Uint8Array, body: Uint8Array, tag: Uint8Array, place: SegmentPlace): Uint8Array {
  if (tag.length !== TAG_BYTES) throw new IntegrityError(`segment ${place.index} of ${place.path} has no whole tag`);
  const decipher = createDecipheriv('aes-256-gcm', fileKey, segmentNonce(place.fileId, place.index));
  decipher.setAAD(segmentAad(place.diskId, place.index, place.final, place.encrypted, place.path));
  decipher.setAuthTag(tag);
  try {
    if (!place.encrypted) {
      decipher.setAAD(body);
      decipher.final();
      return body;
    }
    const plaintext = decipher.update(body);
    const rest = decipher.final();
    return rest.length === 0 ? plaintext : Buffer.concat([plaintext, rest]);
  } catch (cause) {
    throw new IntegrityError(`segment ${place.index} of ${place.path} does not authenticate: damaged, moved or from another disk`, { cause });
  }
}

/** {@link openSegment} of a record as on the disk: body ‖ tag. */
export function openRecord(fileKey: Uint8Array, record: Uint8Array, place: SegmentPlace): Uint8Array {
  if (record.length < TAG_BYTES) throw new IntegrityError(`segment ${place.index} of ${place.path} is shorter than its tag`);
  return openSegment(fileKey, record.subarray(0, record.length - TAG_BYTES), record.subarray(record.length - TAG_BYTES), place);
}
