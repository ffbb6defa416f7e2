import { constants, existsSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { joinBytePath } from './byte-path.js';

const OPEN_DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const PROC_FD = existsSync('/proc/self/fd');

/**
 * An open directory whose entries are reached as `/proc/self/fd/N/name`. Paths handed to node:fs thus
 * stay short however deep the tree is (beyond PATH_MAX), and opening with O_NOFOLLOW means a
 * directory swapped for a symlink after we looked at it is refused rather than followed.
 * Without /proc (not Linux) it falls back to plain joined paths.
 */
export class DirHandle {
  private constructor(
    private readonly handle: FileHandle | undefined,
    private readonly base: Buffer,
  ) {}

  /** Opens the directory at `path` (itself possibly a child path of another handle). */
  static async open(path: Buffer): Promise<DirHandle> {
    const handle = await open(path, OPEN_DIR_FLAGS);
    if (!PROC_FD) {
      await handle.close();
      return new DirHandle(undefined, path);
    }
    return new DirHandle(handle, Buffer.from(`/proc/self/fd/${handle.fd}`));
  }

  /** The path of the directory itself, usable while the handle is open. */
  get path(): Buffer {
    return this.base;
  }

  /** A path to the entry `name` inside this directory, usable while the handle is open. */
  child(name: Buffer): Buffer {
    return joinBytePath(this.base, name);
  }

  async close(): Promise<void> {
    await this.handle?.close();
  }
}
