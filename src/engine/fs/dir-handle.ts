import { closeSync, constants, existsSync, openSync } from 'node:fs';
import { joinBytePath } from './byte-path.js';

const OPEN_DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const PROC_FD = existsSync('/proc/self/fd');

/**
 * An open directory whose entries are reached as `/proc/self/fd/N/name`. Paths handed to node:fs thus
 * stay short however deep the tree is (beyond PATH_MAX), and opening with O_NOFOLLOW means a
 * directory swapped for a symlink after we looked at it is refused rather than followed.
 * Without /proc (not Linux) it falls back to plain joined paths.
 *
 * Opening and closing run on the calling thread: the directory's inode is cached by then (its entry was
 * just looked at), so each is a syscall of about a microsecond, where a thread-pool round trip costs
 * ~0.1 ms of CPU per directory.
 */
export class DirHandle {
  private constructor(
    private descriptor: number | undefined,
    private readonly base: Buffer,
  ) {}

  /** Opens the directory at `path` (itself possibly a child path of another handle). */
  static async open(path: Buffer): Promise<DirHandle> {
    const fd = openSync(path, OPEN_DIR_FLAGS);
    if (!PROC_FD) {
      closeSync(fd);
      return new DirHandle(undefined, path);
    }
    return new DirHandle(fd, Buffer.from(`/proc/self/fd/${fd}`));
  }

  /** The open directory's descriptor (for `*at` calls), while it is open; undefined without /proc. */
  get fd(): number | undefined {
    return this.descriptor;
  }

  /** The path of the directory itself, usable while the handle is open. */
  get path(): Buffer {
    return this.base;
  }

  /** A path to the entry `name` inside this directory, usable while the handle is open. */
  child(name: Buffer): Buffer {
    return joinBytePath(this.base, name);
  }

  /** Closes the directory; a second call does nothing (the descriptor number may already be reused). */
  async close(): Promise<void> {
    const fd = this.descriptor;
    this.descriptor = undefined;
    if (fd !== undefined) closeSync(fd);
  }
}
