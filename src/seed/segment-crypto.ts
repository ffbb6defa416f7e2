import { createCipheriv, createDecipheriv } from 'node:crypto';
import { IntegrityError } from '../core/errors.js';
import { segmentAad, segmentNonce, TAG_BYTES } from './disk-format.js';

/** Where a segment belongs: what its nonce and associated data bind it to (docs/disk-format.md, section 5). */
export interface SegmentPlace {
  readonly diskId: string;
  readonly path: string;
  readonly fileId: Uint8Array;
  readonly index: number;
  readonly final: boolean;
}

/** Seals one segment under the file key: its ciphertext and its 16-byte tag (the record is both, in that order). */
export function sealSegment(fileKey: Uint8Array, plaintext: Uint8Array, place: SegmentPlace): { ciphertext: Buffer; tag: Buffer } {
  const cipher = createCipheriv('aes-256-gcm', fileKey, segmentNonce(place.fileId, place.index));
  cipher.setAAD(segmentAad(place.diskId, place.index, place.final, place.path));
  const ciphertext = cipher.update(plaintext);
  const rest = cipher.final();
  return { ciphertext: rest.length === 0 ? ciphertext : Buffer.concat([ciphertext, rest]), tag: cipher.getAuthTag() };
}

/**
 * The plaintext of a segment record (ciphertext ‖ tag); `IntegrityError` when it does not authenticate
 * for `place` (altered, moved, truncated, or sealed under another key).
 */
export function openSegment(fileKey: Uint8Array, record: Uint8Array, place: SegmentPlace): Buffer {
  if (record.length < TAG_BYTES) throw new IntegrityError(`segment ${place.index} of ${place.path} is shorter than its tag`);
  const decipher = createDecipheriv('aes-256-gcm', fileKey, segmentNonce(place.fileId, place.index));
  decipher.setAAD(segmentAad(place.diskId, place.index, place.final, place.path));
  decipher.setAuthTag(record.subarray(record.length - TAG_BYTES));
  const body = decipher.update(record.subarray(0, record.length - TAG_BYTES));
  try {
    const tail = decipher.final();
    return tail.length === 0 ? body : Buffer.concat([body, tail]);
  } catch (cause) {
    throw new IntegrityError(`segment ${place.index} of ${place.path} does not authenticate: damaged, moved or from another disk`, { cause });
  }
}
