import { Compressor, Decompressor } from 'zstd-napi';
import { IntegrityError } from '../../core/errors.js';

export const DEFAULT_COMPRESSION_LEVEL = 3;

/** How a blob is stored inside a pack. */
export const Compression = { None: 0, Zstd: 1 } as const;
export type Compression = (typeof Compression)[keyof typeof Compression];

/**
 * zstd with reusable native contexts. Not shared across worker threads: create one per thread.
 */
export class BlobCompressor {
  private readonly compressor = new Compressor();
  private readonly decompressor = new Decompressor();

  constructor(level: number = DEFAULT_COMPRESSION_LEVEL) {
    this.compressor.setParameters({ compressionLevel: level });
  }

  /**
   * Compresses `data` when that saves at least 1/32 of it (and 64 bytes); otherwise returns undefined
   * so the caller stores it raw. Incompressible media thus costs no decompression on restore.
   */
  compress(data: Uint8Array): Buffer | undefined {
    if (data.length < 128) return undefined;
    const packed = this.compressor.compress(data);
    return packed.length + Math.max(64, data.length >>> 5) <= data.length ? packed : undefined;
  }

  /**
   * Decompresses `data`; when `rawLength` is given the result must have exactly that many bytes.
   * Throws `IntegrityError` on damaged input.
   */
  decompress(data: Uint8Array, rawLength?: number): Buffer {
    let out: Buffer;
    try {
      out = this.decompressor.decompress(data);
    } catch (cause) {
      throw new IntegrityError('compressed data does not decompress', { cause });
    }
    if (rawLength !== undefined && out.length !== rawLength) {
      throw new IntegrityError(`decompressed ${out.length} bytes, expected ${rawLength}`);
    }
    return out;
  }
}
