import { constants } from 'node:fs';
import { lstat, mkdir, open, rm, symlink, unlink, type FileHandle } from 'node:fs/promises';
import { isErrno, UserError } from '../../core/errors.js';

/**
 * Creates entries inside a restore target without ever following a symlink that was there before:
 * files are created with O_EXCL|O_NOFOLLOW, an existing non-directory in the way is unlinked (not
 * followed), and an existing directory is reused only when lstat says it is a real directory.
 * Names come from validated trees (no `/`, `.` or `..`), so paths cannot leave the target.
 */
export const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

export async function createDirectory(path: Buffer): Promise<void> {
  try {
    await mkdir(path, { mode: 0o700 });
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err;
    const st = await lstat(path);
    if (st.isDirectory()) return;
    await unlink(path);
    await mkdir(path, { mode: 0o700 });
  }
}

/** Creates a new file with `mode` (reduced by the umask), replacing a non-directory in the way. */
export async function createFile(path: Buffer, mode = 0o600): Promise<FileHandle> {
  try {
    return await open(path, CREATE_FLAGS, mode);
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err;
    await removeNonDirectory(path);
    return open(path, CREATE_FLAGS, mode);
  }
}

export async function createSymlink(target: Buffer, path: Buffer): Promise<void> {
  try {
    await symlink(target, path);
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err;
    await removeNonDirectory(path);
    await symlink(target, path);
  }
}

/** Runs `create` and, when something is in the way, removes it (unless a directory) and runs it again. */
export async function replacing(path: Buffer, create: () => void): Promise<void> {
  try {
    create();
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err;
    await removeNonDirectory(path);
    create();
  }
}

async function removeNonDirectory(path: Buffer): Promise<void> {
  const st = await lstat(path);
  if (st.isDirectory()) {
    // `path` reaches the entry through /proc/self/fd (see DirHandle): the caller names it by its snapshot path.
    throw new UserError('a directory is in the way in the target; remove it or restore into an empty target');
  }
  await unlink(path);
}

/** Removes a partly restored file so no wrong bytes are left behind. */
export async function discard(path: Buffer): Promise<void> {
  await rm(path, { force: true });
}
