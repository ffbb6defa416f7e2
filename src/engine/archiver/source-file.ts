import { close, constants, read } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';
import { nativeOpenRead } from '../os/posix-extras.js';

const readFd = promisify(read);
const closeFd = promisify(close);
const openRead = nativeOpenRead();

/** What readChunks reads: a file's bytes in order. */
export interface ChunkSource {
  /** Reads up to `length` bytes into `buffer` at `offset`; fewer only where the file ends (0 after it). */
  read(buffer: Buffer, offset: number, length: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * A source file of the backup, reached by its folder's descriptor and its name. Opening a file, reading a
 * small one and closing it are three trips to libuv's thread pool through node:fs, and the trips (a
 * wakeup of a pool thread and of the main thread each) cost more CPU than the read: here the first
 * {@link read} opens and reads in one (the addon's `openRead`), and a file that ends within it is closed
 * there too. Later reads and the close go through node:fs by descriptor.
 */
class FolderSourceFile implements ChunkSource {
  /** -2 before the first read, -1 once the file has ended (closed by openRead), else the open descriptor. */
  private fd = -2;

  constructor(
    private readonly dirFd: number,
    private readonly name: Buffer,
    private readonly flags: number,
    private readonly onFlagsUsed: (flags: number) => void,
  ) {}

  async read(buffer: Buffer, offset: number, length: number): Promise<number> {
    if (this.fd === -2) {
      const [fd, bytesRead, flagsUsed] = await openRead!(this.dirFd, this.name, this.flags, buffer, offset, length);
      this.fd = fd;
      if (flagsUsed !== this.flags) this.onFlagsUsed(flagsUsed);
      return bytesRead;
    }
    if (this.fd === -1) return 0;
    return (await readFd(this.fd, buffer, offset, length, null)).bytesRead;
  }

  async close(): Promise<void> {
    const fd = this.fd;
    this.fd = -1;
    if (fd >= 0) await closeFd(fd);
  }
}

/** A source file opened by path (no folder descriptor, or an addon without openRead). */
class PathSourceFile implements ChunkSource {
  private constructor(private readonly handle: FileHandle) {}

  static async open(path: Buffer, flags: number, onFlagsUsed: (flags: number) => void): Promise<PathSourceFile> {
    try {
      return new PathSourceFile(await open(path, flags));
    } catch (err) {
      // O_NOATIME is refused for files we do not own unless privileged.
      const noAtime = constants.O_NOATIME ?? 0;
      if ((flags & noAtime) === 0 || (err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
      onFlagsUsed(flags & ~noAtime);
      return new PathSourceFile(await open(path, flags & ~noAtime));
    }
  }

  async read(buffer: Buffer, offset: number, length: number): Promise<number> {
    return (await this.handle.read(buffer, offset, length, null)).bytesRead;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/**
 * Where a source file is: a path that reaches it, and where the walk has it open, its folder's descriptor
 * (undefined without one) and its name.
 */
export interface SourceLocation {
  readonly path: Buffer;
  readonly dirFd: number | undefined;
  readonly name: Buffer;
}

/**
 * Opens a source file for reading with open(2) `flags` (by folder and name on its first read, where the
 * addon can: open errors then come from that read). `onFlagsUsed` hears of flags dropped because the
 * kernel refused them (O_NOATIME on another user's file), so the caller stops asking.
 */
export async function openSourceFile(location: SourceLocation, flags: number, onFlagsUsed: (flags: number) => void): Promise<ChunkSource> {
  if (location.dirFd !== undefined && openRead !== undefined) return new FolderSourceFile(location.dirFd, location.name, flags, onFlagsUsed);
  return PathSourceFile.open(location.path, flags, onFlagsUsed);
}
