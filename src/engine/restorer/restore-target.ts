import { constants, lstatSync, mkdirSync, openSync, unlinkSync } from 'node:fs';
import { lstat, symlink, unlink } from 'node:fs/promises';
import { isErrno, UserError } from '../../core/errors.js';
import { createFileAt, removeAt } from '../os/posix-extras.js';

/**
 * A directory already in the target stands where the snapshot has a file, symlink or special file.
 * It is never removed (it may hold the user's data): the restorer names it with its real path and
 * the remedy, moving it away or restoring into an empty folder.
 */
export class DirectoryInTheWayError extends UserError {
  override readonly code = 'DIRECTORY_IN_THE_WAY';

  constructor() {
    super('a directory is in the way');
  }
}

/**
 * Creates entries inside a restore target without ever following a symlink that was there before:
 * files are created with O_EXCL|O_NOFOLLOW, an existing non-directory in the way is unlinked (not
 * followed), and an existing directory is reused only when lstat says it is a real directory.
 * Names come from validated trees (no `/`, `.` or `..`), so paths cannot leave the target.
 */
export const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Makes the folder `path` (an existing real folder is kept; anything else in the way is unlinked).
 * Synchronous, as the folder metadata calls of the restore: each is a few microseconds in the kernel,
 * where a round trip through libuv's thread pool costs the calling thread ~0.1 ms.
 */
export function createDirectory(path: Buffer): void {
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err;
    if (lstatSync(path).isDirectory()) return;
    unlinkSync(path);
    mkdirSync(path, { mode: 0o700 });
  }
}

/**
 * Creates a new file with `mode` (reduced by the umask), replacing a non-directory in the way, and
 * returns its descriptor. Synchronous: the file writers call it on their worker threads, where blocking
 * is the point.
 */
export function createFileSync(path: Uint8Array, mode = 0o600): number {
  try {
    return openSync(path as Buffer, CREATE_FLAGS, mode);
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err;
    if (lstatSync(path as Buffer).isDirectory()) throw new DirectoryInTheWayError();
    unlinkSync(path as Buffer);
    return openSync(path as Buffer, CREATE_FLAGS, mode);
  }
}

/**
 * {@link createFileSync} for the entry `name` of the open directory `dirFd` (openat, unlinkat): the
 * kernel resolves one name instead of a `/proc/self/fd/N/name` path. A directory in the way is a
 * {@link DirectoryInTheWayError} and stays.
 */
export function createFileAtSync(dirFd: number, name: Uint8Array, mode = 0o600): number {
  try {
    return createFileAt(dirFd, name, mode);
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err;
    try {
      removeAt(dirFd, name);
    } catch (removeErr) {
      // unlink(2) refuses a directory with EISDIR on Linux (EPERM elsewhere, which fstatat would tell apart).
      if (isErrno(removeErr, 'EISDIR')) throw new DirectoryInTheWayError();
      throw removeErr;
    }
    return createFileAt(dirFd, name, mode);
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
    throw new DirectoryInTheWayError();
  }
  await unlink(path);
}

/**
 * Removes a partly restored file so no wrong bytes are left behind, or whatever non-directory stands
 * where a hard link goes. Nothing there is fine; a directory there is a {@link DirectoryInTheWayError}.
 */
export async function discard(path: Buffer): Promise<void> {
  try {
    await removeNonDirectory(path);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
}
