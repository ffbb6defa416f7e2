// What the tests of reads and writes past the page cache need to judge them independently of the code under
// test: util-linux's fincore and dd.
import { execFileSync } from 'node:child_process';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { allocateAligned, writeAt } from '../direct-write.js';

/** Pages of `path` in the page cache, by util-linux's fincore; undefined where it is missing. */
export function cachedPages(path: string): number | undefined {
  try {
    return Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'PAGES', path], { encoding: 'utf8' }).trim());
  } catch {
    return undefined;
  }
}

/** Whether the folder's file system takes O_DIRECT reads (dd). */
export function takesDirectReads(folder: string): boolean {
  return dd(['if=/dev/zero', `of=${join(folder, 'probe')}`, 'bs=4096', 'count=1', 'status=none']) && dd([`if=${join(folder, 'probe')}`, 'of=/dev/null', 'bs=4096', 'count=1', 'iflag=direct', 'status=none']);
}

/** Whether the folder's file system takes O_DIRECT writes (dd). */
export function takesDirectWrites(folder: string): boolean {
  return dd(['if=/dev/zero', `of=${join(folder, 'probe')}`, 'bs=4096', 'count=1', 'oflag=direct', 'status=none']);
}

function dd(args: string[]): boolean {
  try {
    execFileSync('dd', args);
    return true;
  } catch {
    return false;
  }
}

/** `length` bytes of a pattern that differs by `seed` (and by `step`) and never repeats within 256 bytes. */
export function patterned(length: number, seed: number, step = 31): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * step + seed) & 0xff;
  return bytes;
}

/** A file at `path` of `length` patterned bytes written past the page cache, so that none of it is cached. */
export async function uncachedFile(path: string, length: number, seed: number): Promise<string> {
  const handle = await open(path, 'w+');
  try {
    const bytes = allocateAligned(length);
    patterned(length, seed).copy(bytes);
    await writeAt(handle, bytes, 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return path;
}
