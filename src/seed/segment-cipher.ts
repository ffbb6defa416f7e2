import { webcrypto } from 'node:crypto';
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

/**
 * AES-256-GCM of the segments of a disk's files under its file key. The work runs on libuv's thread pool
 * (WebCrypto), so several segments are sealed or opened in parallel while the main thread hashes and
 * does I/O. Safe to use concurrently; the plaintext passed in may be reused once the promise settles.
 */
export class SegmentCipher {
  private constructor(private readonly key: webcrypto.CryptoKey) {}

  /** A cipher for `fileKey` (32 bytes, the file subkey of a disk key). */
  static async create(fileKey: Uint8Array): Promise<SegmentCipher> {
    const key = await webcrypto.subtle.importKey('raw', fileKey, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
    return new SegmentCipher(key);
  }

  /** The segment record: ciphertext ‖ 16-byte tag. */
  async seal(plaintext: Uint8Array, place: SegmentPlace): Promise<Buffer> {
    const record = await webcrypto.subtle.encrypt(params(place), this.key, plaintext);
    return Buffer.from(record);
  }

  /**
   * The plaintext of a segment record; `IntegrityError` when it does not authenticate for `place`
   * (altered, moved, truncated, or sealed under another key).
   */
  async open(record: Uint8Array, place: SegmentPlace): Promise<Buffer> {
    if (record.length < TAG_BYTES) throw new IntegrityError(`segment ${place.index} of ${place.path} is shorter than its tag`);
    try {
      return Buffer.from(await webcrypto.subtle.decrypt(params(place), this.key, record));
    } catch (cause) {
      throw new IntegrityError(`segment ${place.index} of ${place.path} does not authenticate: damaged, moved or from another disk`, { cause });
    }
  }
}

function params(place: SegmentPlace): webcrypto.AesGcmParams {
  return {
    name: 'AES-GCM',
    iv: segmentNonce(place.fileId, place.index),
    additionalData: segmentAad(place.diskId, place.index, place.final, place.path),
    tagLength: TAG_BYTES * 8,
  };
}
