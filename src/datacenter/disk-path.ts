/**
 * Opening a file of a disk safely: the path is built from the disk root and a name under files/, every
 * folder on the way must be a real folder (no symbolic link), and the file itself a plain file opened
 * without following a link. So a disk cannot make ingest read anything outside it (docs/datacenter.md).
 */
import { constants } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

/** Why a file of a disk could not be opened, as error-log codes. */
export type OpenFailureCode = 'PathRefused' | 'FileNotFound' | 'IOFailed';

/** An open file of a disk with its size, or why it could not be opened. */
export type OpenedOnDisk = { readonly ok: true; readonly handle: FileHandle; readonly size: number } | { readonly ok: false; readonly code: OpenFailureCode; readonly message: string };

/**
 * Opens `relative` (a `/`-separated name such as `files/0000/00000001.fry`) under the disk root `root`
 * (already resolved with realpath) for reading. Refuses (PathRefused) a name with an empty, `.` or `..`
 * segment, a folder on the way that is a symbolic link or not a folder, and a file that is a link or not
 * a plain file; FileNotFound when something on the way is missing; IOFailed for other system errors.
 * Never blocks on a FIFO. The caller closes the handle.
 */
export async function openOnDisk(root: string, relative: string): Promise<OpenedOnDisk> {
  const parts = relative.split('/');
  if (parts.some((part) => part === '' || part === '.' || part === '..')) return refused(`${relative} is not a name inside the disk`);
  let at = root;
  for (const [i, part] of parts.entries()) {
    at = join(at, part);
    const shown = parts.slice(0, i + 1).join('/');
    let info;
    try {
      info = await lstat(at);
    } catch (err) {
      return systemFailure(relative, err);
    }
    if (info.isSymbolicLink()) return refused(`${shown} on the disk is a symbolic link: ingest reads only plain files inside the disk`);
    const last = i === parts.length - 1;
    if (!last && !info.isDirectory()) return refused(`${shown} on the disk is not a folder`);
    if (last && !info.isFile()) return refused(`${relative} on the disk is not a plain file`);
  }
  let handle: FileHandle;
  try {
    handle = await open(at, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') return refused(`${relative} on the disk is a symbolic link`);
    return systemFailure(relative, err);
  }
  try {
    // Checked again on the open file: the name may have been replaced since the lstat.
    const info = await handle.stat();
    if (!info.isFile()) {
      await handle.close();
      return refused(`${relative} on the disk is not a plain file`);
    }
    return { ok: true, handle, size: info.size };
  } catch (err) {
    await handle.close();
    return systemFailure(relative, err);
  }
}

function refused(message: string): OpenedOnDisk {
  return { ok: false, code: 'PathRefused', message };
}

function systemFailure(relative: string, err: unknown): OpenedOnDisk {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, code: 'FileNotFound', message: `${relative} is missing on the disk` };
  return { ok: false, code: 'IOFailed', message: `${relative} cannot be opened on the disk: ${(err as Error).message}` };
}
