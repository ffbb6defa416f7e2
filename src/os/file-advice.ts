/**
 * posix_fadvise(2) through the restore block of the native addon (native/ferry_fs.c): hints to the
 * kernel about how a file will be read. A hint only: where the addon does not load or the call does not
 * exist, nothing happens.
 */
import { optionalAddon } from './native-addon.js';

/** What {@link adviseFile} tells the kernel about reading a file. */
export type FileAdvice = 'sequential' | 'willneed' | 'dontneed';

/**
 * `willneed` starts reading `length` bytes from `offset` into the page cache in the background (a later
 * read finds them there instead of waiting for the disk), `sequential` widens the file's read-ahead,
 * `dontneed` drops its clean cached pages. Returns whether the hint was given; errors are ignored.
 */
export function adviseFile(fd: number, offset: number, length: number, advice: FileAdvice): boolean {
  const calls = optionalAddon();
  if (!calls) return false;
  try {
    calls.fadvise(fd, offset, length, advice);
    return true;
  } catch {
    return false;
  }
}
