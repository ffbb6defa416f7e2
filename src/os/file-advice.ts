/**
 * posix_fadvise(2) through the restore block of the native addon (native/ferry_fs.c): hints to the
 * kernel about how a file will be read. A hint only: where the addon does not load or the call does not
 * exist, nothing happens.
 */
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What {@link adviseFile} tells the kernel about reading a file. */
export type FileAdvice = 'sequential' | 'willneed' | 'dontneed';

interface AdviceAddon {
  fadvise(fd: number, offset: number, length: number, advice: FileAdvice): void;
}

// Two levels below the package root, as src/os/file-advice.ts (tsx) and as dist/os/file-advice.js (tsc).
const ADDON_PATH = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'build', 'Release', 'ferry_fs.node');

let addon: AdviceAddon | null | undefined;

function load(): AdviceAddon | null {
  if (addon !== undefined) return addon;
  try {
    const loaded = createRequire(import.meta.url)(ADDON_PATH) as Partial<AdviceAddon>;
    addon = typeof loaded.fadvise === 'function' ? (loaded as AdviceAddon) : null;
  } catch {
    addon = null;
  }
  return addon;
}

/**
 * `willneed` starts reading `length` bytes from `offset` into the page cache in the background (a later
 * read finds them there instead of waiting for the disk), `sequential` widens the file's read-ahead,
 * `dontneed` drops its clean cached pages. Returns whether the hint was given; errors are ignored.
 */
export function adviseFile(fd: number, offset: number, length: number, advice: FileAdvice): boolean {
  const calls = load();
  if (!calls) return false;
  try {
    calls.fadvise(fd, offset, length, advice);
    return true;
  } catch {
    return false;
  }
}
