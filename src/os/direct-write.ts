/**
 * Writes that bypass the page cache. A backup writes each pack once and does not read it back, so copying
 * it into the page cache (and allocating, tracking and writing back those pages later) is kernel work for
 * nothing: measured here, writing 1.2 GB of 16 MiB files with fsync took 3.4 s of system time through the
 * page cache and 1.5 s with O_DIRECT. The addon's `pwriteDirect` (native/ferry_fs.c) writes the block-aligned
 * part of a buffer that starts on a block boundary with O_DIRECT and the rest as usual; buffers from
 * {@link allocateAligned} start on one. Without the addon, or on a file system that refuses O_DIRECT, the
 * same bytes are written through the page cache: the result is the same file.
 */
import { createHash, type Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { optionalAddon, type NativeSha256 } from './native-addon.js';

/** The memory, file offset and length granularity of direct writes (the largest common logical block size). */
export const DIRECT_ALIGN = 4096;

/**
 * Writes from this size on are hashed and written side by side (two trips to the thread pool); smaller
 * ones in one trip, where a second trip would cost about what it saves.
 */
const SIDE_BY_SIDE_BYTES = 64 * 1024;

/**
 * Writes all of `bytes` at `position` of `handle`'s file (its file offset is not used or moved). The caller
 * still fsyncs to make the bytes durable. Errors are the file system's (ENOSPC, EIO…) with `code` as
 * node:fs sets it.
 */
export async function writeAt(handle: FileHandle, bytes: Uint8Array, position: number, hash?: WriteHash): Promise<void> {
  const addon = optionalAddon();
  const direct = addon?.pwriteDirect;
  if (hash?.native !== undefined && direct !== undefined) {
    if (addon?.sha256Update !== undefined && bytes.byteLength >= SIDE_BY_SIDE_BYTES) {
      // Hashed and written on two threads of the pool at once: a chunk costs the longer of the two, not
      // their sum (docs/PERFORMANCE.md, "ingest at half of cp"). Both are awaited whatever happens, so the
      // hash state and the bytes outlive the hashing; a write error is the one to report.
      const [hashed, written] = await Promise.allSettled([addon.sha256Update(hash.native, bytes), direct(handle.fd, bytes, position)]);
      if (written.status === 'rejected') throw written.reason;
      if (hashed.status === 'rejected') throw hashed.reason;
      return;
    }
    // Hashed and written in one trip to the thread pool, the calling thread free meanwhile.
    await direct(handle.fd, bytes, position, hash.native);
    return;
  }
  hash?.js?.update(bytes);
  if (direct !== undefined && bytes.byteLength >= DIRECT_ALIGN) {
    await direct(handle.fd, bytes, position);
    return;
  }
  for (let written = 0; written < bytes.byteLength; ) {
    const result = await handle.write(bytes, written, bytes.byteLength - written, position + written);
    written += result.bytesWritten;
  }
}

/**
 * The SHA-256 of the bytes given to {@link writeAt} with it, in the order written (one write at a time):
 * with the addon, each write's bytes are hashed on the thread pool while (for small writes: just before)
 * they are written, so a save that checks its bytes against a SHA-256 (FsStorage; the service's uploads,
 * checked against their names) does not hash on the calling thread, where it was a third of the service's
 * work during an ingest; without the addon, on the calling thread. {@link digestHex} once, after the last
 * write.
 */
export class WriteHash {
  readonly native: NativeSha256 | undefined;
  readonly js: Hash | undefined;

  constructor() {
    const addon = optionalAddon();
    this.native = addon?.sha256New?.();
    this.js = this.native === undefined ? createHash('sha256') : undefined;
  }

  /** The digest in lowercase hex; the state is spent. */
  digestHex(): string {
    if (this.native !== undefined) return optionalAddon()!.sha256Digest!(this.native).toString('hex');
    return this.js!.digest('hex');
  }
}

/**
 * A buffer of `bytes` bytes that starts on a {@link DIRECT_ALIGN} boundary (when the addon can tell where
 * it starts), the only view of an ArrayBuffer of its own `DIRECT_ALIGN` bytes larger; {@link alignedView}
 * finds the aligned start again after the ArrayBuffer went to another thread and back.
 */
export function allocateAligned(bytes: number): Buffer {
  return alignedView(new ArrayBuffer(bytes + DIRECT_ALIGN)).subarray(0, bytes);
}

/** The part of `buffer` from its first {@link DIRECT_ALIGN} boundary on (all of it without the addon). */
export function alignedView(buffer: ArrayBufferLike): Buffer {
  const whole = Buffer.from(buffer);
  const misalignment = optionalAddon()?.alignmentOf(whole) ?? 0;
  return whole.subarray(misalignment === 0 ? 0 : DIRECT_ALIGN - misalignment);
}
