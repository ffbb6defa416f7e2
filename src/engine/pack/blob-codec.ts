import { IntegrityError } from '../../core/errors.js';
import { idToBytes, type Id } from '../../core/ids.js';
import { open, openInto, seal, sealInto, SEAL_OVERHEAD } from '../crypto/aead.js';
import { BlobCompressor, Compression } from '../compress/zstd.js';
import type { BlobType } from './pack-format.js';

/** Where {@link BlobCodec.encodeInto} puts a blob: it gives room for `length` bytes and calls `seal` on it. */
export interface SealedBlobSink<R> {
  addSealed(blob: SealedBlobInfo, seal: (target: Buffer, offset: number) => number): R;
}

/** A blob about to be sealed: `length` is its sealed size. */
export interface SealedBlobInfo {
  readonly type: BlobType;
  readonly id: Id;
  readonly compression: Compression;
  readonly rawLength: number;
  readonly length: number;
}

/** A blob ready to be appended to a pack. */
export interface EncodedBlob {
  readonly type: BlobType;
  readonly id: Id;
  readonly compression: Compression;
  readonly rawLength: number;
  readonly sealed: Buffer;
}

const AAD_PREFIX = Buffer.from('ferry blob v1');

/** Associated data of a blob: its type and id, so a blob cannot be passed off as another. */
function blobAad(type: BlobType, id: Id): Buffer {
  return Buffer.concat([AAD_PREFIX, Buffer.of(type === 'tree' ? 1 : 0), idToBytes(id)]);
}

/** Compresses (when it pays) and seals blobs, and reverses it. One instance per thread. */
export class BlobCodec {
  private readonly compressor: BlobCompressor;
  /** Decrypted bodies of compressed blobs, for {@link decodeInto}. */
  private scratch: Buffer = Buffer.alloc(0);

  constructor(private readonly key: Uint8Array, compressionLevel?: number) {
    this.compressor = new BlobCompressor(compressionLevel);
  }

  encode(type: BlobType, id: Id, plaintext: Uint8Array): EncodedBlob {
    const packed = this.compressor.compress(plaintext);
    return {
      type,
      id,
      compression: packed ? Compression.Zstd : Compression.None,
      rawLength: plaintext.length,
      sealed: seal(this.key, packed ?? plaintext, blobAad(type, id)),
    };
  }

  /**
   * {@link encode} straight into a pack: compresses into a reused scratch buffer and seals into the
   * pack's own buffer (see PackBuilder.addSealed), so a blob costs no buffer of its own. Same bytes
   * format as {@link encode}. Returns the pack the blob completed, if any.
   */
  encodeInto<R>(builder: SealedBlobSink<R>, type: BlobType, id: Id, plaintext: Uint8Array): R {
    const packed = this.compressor.compressToScratch(plaintext);
    const body = packed ?? plaintext;
    const aad = blobAad(type, id);
    return builder.addSealed(
      { type, id, compression: packed ? Compression.Zstd : Compression.None, rawLength: plaintext.length, length: body.length + SEAL_OVERHEAD },
      (target, offset) => sealInto(this.key, body, aad, target, offset),
    );
  }

  /**
   * {@link decode} into `target` (at least `rawLength` bytes): a compressed blob is decrypted into a
   * scratch buffer this codec reuses and decompressed into `target`, a raw one decrypted straight into it.
   * Returns the view of `target` that holds the blob; same checks and errors as {@link decode}.
   */
  decodeInto(type: BlobType, id: Id, sealed: Uint8Array, compression: Compression, rawLength: number, target: Buffer): Buffer {
    if (target.length < rawLength) throw new RangeError(`no room for ${rawLength} bytes in ${target.length}`);
    const aad = blobAad(type, id);
    const bodyLength = Math.max(0, sealed.length - SEAL_OVERHEAD);
    if (compression === Compression.None) {
      // A raw body must be exactly rawLength long: check before writing, so it cannot overrun `target`.
      if (bodyLength !== rawLength) throw new IntegrityError(`blob has ${bodyLength} bytes, expected ${rawLength}`);
      openInto(this.key, sealed, aad, target, 0);
      return target.subarray(0, rawLength);
    }
    if (this.scratch.length < bodyLength) this.scratch = Buffer.allocUnsafeSlow(Math.max(bodyLength, 2 * this.scratch.length));
    const length = openInto(this.key, sealed, aad, this.scratch, 0);
    return this.compressor.decompressInto(this.scratch.subarray(0, length), rawLength, target);
  }

  /** Throws `IntegrityError` when the sealed bytes are not the blob `id` of `type`. */
  decode(type: BlobType, id: Id, sealed: Uint8Array, compression: Compression, rawLength: number): Buffer {
    const body = open(this.key, sealed, blobAad(type, id));
    if (compression === Compression.None) {
      if (body.length !== rawLength) throw new IntegrityError(`blob has ${body.length} bytes, expected ${rawLength}`);
      return body;
    }
    return this.compressor.decompress(body, rawLength);
  }
}
