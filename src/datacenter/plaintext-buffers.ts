/**
 * Memory for the plaintexts of ingest, recycled from file to file (open-pool.ts): a fresh buffer of a
 * pack's size per file was mapped, faulted in page by page and left to the garbage collector, whose full
 * collections this memory pressure triggered; that cost the ingest command more CPU than its hashing.
 *
 * Buffers are sized in steps of {@link STEP} bytes so that packs of slightly different sizes share them;
 * files smaller than one step are not worth it and get none. At most {@link MAX_FREE_BYTES} are kept free.
 * A plaintext starts at its buffer's first {@link DIRECT_ALIGN} boundary ({@link plaintextView}), so that
 * an ingest on the service's host stores it past the page cache (os/direct-write.ts): unaligned, every
 * byte went through the page cache, which cost that ingest 3 s of system time per GB (docs/PERFORMANCE.md).
 *
 * They are SharedArrayBuffers: the pool posts one to a worker, which reads the file into it and answers a
 * view of it, without moving it. A moved ArrayBuffer is a new allocation in the V8 heap that receives it
 * (its bytes count as external memory there), and a pack's worth per file, in both directions, made each
 * thread of ingest run a full garbage collection every few files (docs/PERFORMANCE.md). Only one thread
 * uses a buffer at a time: the worker until it answers, then the main thread until it gives it back.
 */
import { alignedView, DIRECT_ALIGN } from '../os/direct-write.js';

export class PlaintextBuffers {
  private free: SharedArrayBuffer[] = [];
  private freeBytes = 0;

  /**
   * A free buffer with room for `size` bytes from its first aligned byte on (the smallest that fits, or a
   * new one), or none for a small file.
   */
  take(size: number): SharedArrayBuffer | undefined {
    if (size < STEP) return undefined;
    const needed = size + DIRECT_ALIGN;
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const length = this.free[i]!.byteLength;
      if (length >= needed && (best < 0 || length < this.free[best]!.byteLength)) best = i;
    }
    if (best < 0) return new SharedArrayBuffer(Math.ceil(needed / STEP) * STEP);
    const [buffer] = this.free.splice(best, 1);
    this.freeBytes -= buffer!.byteLength;
    return buffer;
  }

  /**
   * Takes back a buffer that `take` gave, also as another thread's object for the same memory (anything
   * that is not a SharedArrayBuffer of a whole number of steps is ignored).
   */
  give(buffer: ArrayBufferLike): void {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < STEP || buffer.byteLength % STEP !== 0 || this.free.includes(buffer)) return;
    this.free.push(buffer);
    this.freeBytes += buffer.byteLength;
    // The largest go first: a rare huge file should not pin its memory for the rest of the run.
    this.free.sort((a, b) => a.byteLength - b.byteLength);
    while (this.freeBytes > MAX_FREE_BYTES) this.freeBytes -= this.free.pop()!.byteLength;
  }

  /** Bytes held free for reuse. */
  get held(): number {
    return this.freeBytes;
  }
}

/** The `size` bytes of a buffer from {@link PlaintextBuffers.take} where a plaintext goes: from its first aligned byte. */
export function plaintextView(buffer: SharedArrayBuffer, size: number): Buffer {
  return alignedView(buffer).subarray(0, size);
}

/** Buffers are multiples of this (and files smaller than it get none). */
export const STEP = 1024 * 1024;
/** Free memory kept at most: about the ingest's default bytes in flight. */
export const MAX_FREE_BYTES = 128 * 1024 * 1024;
