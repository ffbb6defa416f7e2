import { IntegrityError } from '../../core/errors.js';
import { idToBytes, type Id } from '../../core/ids.js';
import { open, seal } from '../crypto/aead.js';
import { BlobCompressor, Compression } from '../compress/zstd.js';
import type { BlobType } from './pack-format.js';

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
