/**
 * Reads that bypass the page cache. Diskprep reads every byte of a disk back once, right after writing
 * it, to prove the disk holds what was written: through the page cache that read is a copy out of the
 * cache (and proves only that the cache holds the bytes); with O_DIRECT the device's bytes land in the
 * caller's memory without a copy. The file offset, the length and the memory of an O_DIRECT read must be
 * {@link DIRECT_ALIGN}-aligned: {@link DirectReadFile.read} widens each read to whole blocks around the
 * range asked for. Without the addon (which tells where memory starts) or on a file system that refuses
 * O_DIRECT (EINVAL: tmpfs before Linux 6.6, some FUSE mounts), the same bytes are read through the page
 * cache.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { isErrno } from '../core/errors.js';
import { allocateAligned, DIRECT_ALIGN } from './direct-write.js';
import { optionalAddon } from './native-addon.js';

/** Bytes a buffer for {@link DirectReadFile.read} of `length` bytes needs: the range widened to whole blocks on both sides. */
export function directReadSpan(length: number): number {
  return length + 2 * DIRECT_ALIGN;
}

/** A buffer for {@link DirectReadFile.read}s of up to `length` bytes: aligned, {@link directReadSpan} long. */
export function allocateDirectRead(length: number): Buffer {
  return allocateAligned(directReadSpan(length));
}

/**
 * Whether a read of `length` bytes at `position` straight into `target` can go past the page cache: the
 * position and `target` start on a block boundary (the addon tells where memory starts) and `target` has
 * room for the read widened to whole blocks (which {@link DirectReadFile.read} then writes into it).
 */
export function fitsDirectRead(target: Uint8Array, position: number, length: number): boolean {
  const addon = optionalAddon();
  return (
    addon !== null &&
    position % DIRECT_ALIGN === 0 &&
    target.byteLength >= Math.ceil(length / DIRECT_ALIGN) * DIRECT_ALIGN &&
    addon.alignmentOf(target) === 0
  );
}

/** A file opened for reading, past the page cache when it can be. */
export class DirectReadFile {
  private constructor(
    private handle: FileHandle,
    private direct: boolean,
    private readonly path: string,
  ) {}

  /** Opens `path` for reading (errors as node:fs's `open`: ENOENT and so on). */
  static async open(path: string): Promise<DirectReadFile> {
    if (optionalAddon() !== null && constants.O_DIRECT !== undefined) {
      try {
        return new DirectReadFile(await open(path, constants.O_RDONLY | constants.O_DIRECT), true, path);
      } catch (err) {
        if (!isErrno(err, 'EINVAL')) throw err;
      }
    }
    return new DirectReadFile(await open(path, 'r'), false, path);
  }

  /** Whether reads bypass the page cache (false after a fallback). */
  get isDirect(): boolean {
    return this.direct;
  }

  /** The file's size in bytes. */
  async size(): Promise<number> {
    return (await this.handle.stat()).size;
  }

  /**
   * Reads the `length` bytes at `position` and answers them as a view of `buffer`, which must come from
   * {@link allocateDirectRead} (or be {@link directReadSpan} long and aligned) for at least `length` bytes.
   * A file that ends before `position + length` is an `Error` ("ended early").
   */
  async read(buffer: Uint8Array, position: number, length: number): Promise<Buffer> {
    if (this.direct) {
      try {
        return await this.readDirect(buffer, position, length);
      } catch (err) {
        if (!isErrno(err, 'EINVAL')) throw err;
        // This file system takes O_DIRECT at open but not at this alignment: the page cache does.
        await this.handle.close();
        this.handle = await open(this.path, 'r');
        this.direct = false;
      }
    }
    for (let done = 0; done < length; ) {
      const { bytesRead } = await this.handle.read(buffer, done, length - done, position + done);
      if (bytesRead === 0) throw new Error(`${this.path} ended early`);
      done += bytesRead;
    }
    return Buffer.from(buffer.buffer, buffer.byteOffset, length);
  }

  close(): Promise<void> {
    return this.handle.close();
  }

  private async readDirect(buffer: Uint8Array, position: number, length: number): Promise<Buffer> {
    const start = position - (position % DIRECT_ALIGN);
    const end = Math.ceil((position + length) / DIRECT_ALIGN) * DIRECT_ALIGN;
    const needed = position + length - start;
    if (buffer.length < end - start) throw new RangeError(`a direct read of ${length} bytes needs a buffer of ${directReadSpan(length)} bytes`);
    // Whole blocks each time: a read stops short only at the end of the file.
    for (let done = 0; done < needed; ) {
      const { bytesRead } = await this.handle.read(buffer, done, end - start - done, start + done);
      if (bytesRead === 0) throw new Error(`${this.path} ended early`);
      done += bytesRead;
    }
    return Buffer.from(buffer.buffer, buffer.byteOffset + position - start, length);
  }
}
