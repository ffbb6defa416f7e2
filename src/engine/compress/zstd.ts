import { Compressor, Decompressor } from 'zstd-napi';
import binding from 'zstd-napi/binding.js';

const { CCtx, DCtx, compressBound } = binding;
import { IntegrityError } from '../../core/errors.js';

/**
 * Level 2 for new repositories (a repository keeps the level of its config). On the bench's dataset it
 * stores 1.1 % more than level 3 for 27 % less compression time, the largest item of a backup's CPU, and
 * still matches restic's size (docs/PERFORMANCE.md, "Compression level"). `ferry init --compression-level`
 * picks another.
 */
export const DEFAULT_COMPRESSION_LEVEL = 2;

/**
 * The input size {@link BlobCompressor.compressToScratch}'s scratch buffer is first made for: the largest
 * chunk any chunker makes (8 MiB). Its pages are faulted in only as far as outputs reach, so the buffer
 * costs what the largest output needs; grown by doubling from the first input's size instead, every
 * outgrown buffer stayed resident as garbage until the worker's next full collection, which rarely comes
 * (3 buffers of 1.2–4.7 MiB per encoder worker in a scale-1 full backup).
 */
const SCRATCH_INPUT_BYTES = 8 * 1024 * 1024;

/** How a blob is stored inside a pack. */
export const Compression = { None: 0, Zstd: 1 } as const;
export type Compression = (typeof Compression)[keyof typeof Compression];

/**
 * zstd with reusable native contexts. Not shared across worker threads: create one per thread.
 */
export class BlobCompressor {
  private readonly compressor = new Compressor();
  private readonly decompressor = new Decompressor();
  private readonly context: InstanceType<typeof CCtx> = new CCtx();
  private readonly decompressContext: InstanceType<typeof DCtx> = new DCtx();
  /**
   * Output of {@link compressToScratch}, reused from call to call: made for {@link SCRATCH_INPUT_BYTES} at
   * the first call, replaced only for a larger input.
   */
  private scratch: Buffer = Buffer.alloc(0);

  constructor(private readonly level: number = DEFAULT_COMPRESSION_LEVEL) {
    this.compressor.setParameters({ compressionLevel: level });
  }

  /**
   * {@link compress} without a new buffer per call: the result is a view of a scratch buffer this
   * compressor reuses, valid until its next call. Same frames and the same 1/32 rule.
   */
  compressToScratch(data: Uint8Array): Buffer | undefined {
    if (data.length < 128) return undefined;
    const bound = compressBound(data.length);
    if (this.scratch.length < bound) this.scratch = Buffer.allocUnsafeSlow(Math.max(bound, compressBound(SCRATCH_INPUT_BYTES)));
    const length = this.context.compress(this.scratch, data, this.level);
    return length + Math.max(64, data.length >>> 5) <= data.length ? this.scratch.subarray(0, length) : undefined;
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
   * Decompresses `data` into `target`, which must receive exactly `rawLength` bytes; returns a view of them.
   * Throws `IntegrityError` on damaged input or another length.
   */
  decompressInto(data: Uint8Array, rawLength: number, target: Buffer): Buffer {
    let length: number;
    try {
      length = this.decompressContext.decompress(target, data);
    } catch (cause) {
      throw new IntegrityError('compressed data does not decompress', { cause });
    }
    if (length !== rawLength) throw new IntegrityError(`decompressed ${length} bytes, expected ${rawLength}`);
    return target.subarray(0, length);
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
