import type { FileHandle } from 'node:fs/promises';
import { allocateAligned, DIRECT_ALIGN, writeAt } from '../os/direct-write.js';

/** Bytes gathered before a write: a little more than one run of segments with their tags. */
const GATHER_BYTES = 4 * 1024 * 1024;

/**
 * Writes one disk file at a time, in order, past the page cache (os/direct-write.ts). A disk file's
 * records (segment ‖ tag) start 24 + k·16 bytes past a block boundary, so they cannot go to the disk
 * from the buffers they are in; they are gathered into one aligned buffer, reused from file to file,
 * and each whole-block prefix is written with O_DIRECT, the rest carried to the next write. Through the
 * page cache each byte was copied into a cache page, tracked and written back at the fsync: more kernel
 * work than this copy in user space, and a disk's worth of pages nobody reads again (the read-back
 * verification reads past the cache too). Not safe for concurrent use; the caller still fsyncs.
 */
export class DiskFileWriter {
  private readonly buffer = allocateAligned(GATHER_BYTES + DIRECT_ALIGN);
  private handle: FileHandle | undefined;
  /** Where in the file `buffer[0]` goes: always a block boundary. */
  private position = 0;
  private filled = 0;

  /** Starts the file of `handle` (empty, written from its start); a file not finished is dropped. */
  start(handle: FileHandle): void {
    this.handle = handle;
    this.position = 0;
    this.filled = 0;
  }

  /** Appends `parts` in order; the whole blocks gathered are written (errors as node:fs: ENOSPC…). */
  async append(parts: readonly Uint8Array[]): Promise<void> {
    for (const part of parts) {
      for (let at = 0; at < part.byteLength; ) {
        const n = Math.min(part.byteLength - at, this.buffer.length - this.filled);
        this.buffer.set(part.subarray(at, at + n), this.filled);
        this.filled += n;
        at += n;
        if (this.filled === this.buffer.length) await this.writeBlocks();
      }
    }
    await this.writeBlocks();
  }

  /** Writes what is left (the last partial block through the page cache); the file is then complete. */
  async finish(): Promise<void> {
    const handle = this.target();
    if (this.filled > 0) await writeAt(handle, this.buffer.subarray(0, this.filled), this.position);
    this.position += this.filled;
    this.filled = 0;
    this.handle = undefined;
  }

  private async writeBlocks(): Promise<void> {
    const whole = this.filled - (this.filled % DIRECT_ALIGN);
    if (whole === 0) return;
    await writeAt(this.target(), this.buffer.subarray(0, whole), this.position);
    this.position += whole;
    this.buffer.copyWithin(0, whole, this.filled);
    this.filled -= whole;
  }

  private target(): FileHandle {
    if (this.handle === undefined) throw new Error('DiskFileWriter: no file started');
    return this.handle;
  }
}
