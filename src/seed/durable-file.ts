import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno } from '../core/errors.js';

/**
 * Replaces `dir/name` with `data` atomically and durably: a temporary file `<tempPrefix><hex>` in `dir`,
 * fsync, rename over the target, fsync of `dir`. After it resolves the new contents survive a crash;
 * before, readers see the old file or none. The temporary file is removed on failure.
 */
export async function writeFileDurably(dir: string, name: string, data: Uint8Array, options: { mode?: number; tempPrefix: string }): Promise<void> {
  const temp = join(dir, `${options.tempPrefix}${randomBytes(6).toString('hex')}`);
  const handle = await open(temp, 'wx', options.mode ?? 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    await rename(temp, join(dir, name));
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true }).catch(() => undefined);
    throw err;
  }
  await syncFolder(dir);
}

/** fsyncs a folder so entries created, renamed or removed in it survive a crash. */
export async function syncFolder(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } catch (err) {
    // Some file systems (FAT/exFAT through certain drivers, network mounts) cannot fsync a folder.
    if (!isErrno(err, 'EINVAL') && !isErrno(err, 'ENOTSUP') && !isErrno(err, 'EPERM')) throw err;
  } finally {
    await handle.close();
  }
}
