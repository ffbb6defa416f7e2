import { readdir, realpath, rm, stat, statfs } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { IntegrityError, isErrno, UserError } from '../core/errors.js';
import { SYSTEM_ENTRIES } from './disk-format.js';
import { readLabel, type DiskLabel } from './disk-label.js';

/** What is at a disk path before diskprep uses it. */
export interface DiskInspection {
  /** The path as given. */
  readonly given: string;
  /** Its real path (symbolic links resolved). */
  readonly path: string;
  /** The entries at its root, without the ones a fresh file system has (lost+found, …). */
  readonly entries: readonly string[];
  /** Its Ferry disk label, when it has one that this version reads. */
  readonly label?: DiskLabel;
}

/**
 * Looks at a disk path: it must be an existing directory, and neither be, contain nor be inside the
 * staging location (`stagingReal`, a real path). `UserError` otherwise, saying what to do.
 */
export async function inspectDisk(given: string, stagingReal: string): Promise<DiskInspection> {
  let path: string;
  try {
    path = await realpath(resolve(given));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new UserError(`the disk ${given} does not exist: mount the disk and give the folder it is mounted at`);
    throw new UserError(`cannot use the disk ${given}: ${(err as Error).message}`, { cause: err });
  }
  if (!(await stat(path)).isDirectory()) throw new UserError(`the disk ${given} is not a folder: give the folder the disk is mounted at`);
  if (path === stagingReal) throw new UserError(`the disk ${given} is the staging location: give another disk`);
  if (isInside(path, stagingReal)) throw new UserError(`the disk ${given} is inside the staging location ${stagingReal}: give a disk outside it`);
  if (isInside(stagingReal, path)) throw new UserError(`the disk ${given} contains the staging location ${stagingReal}: give a disk that does not hold the staging location`);
  let names: string[];
  try {
    names = await readdir(path);
  } catch (err) {
    throw new UserError(`cannot read the disk ${given}: ${(err as Error).message}`, { cause: err });
  }
  const entries = names.filter((name) => !SYSTEM_ENTRIES.has(name)).sort();
  let label: DiskLabel | undefined;
  try {
    label = await readLabel(path);
  } catch (err) {
    // An unreadable or foreign label is just content: the disk is not empty.
    if (!(err instanceof IntegrityError)) throw err;
  }
  return { given, path, entries, ...(label ? { label } : {}) };
}

/** Deletes everything on a disk but the entries a fresh file system has. */
export async function eraseDisk(disk: DiskInspection): Promise<void> {
  for (const name of await readdir(disk.path)) {
    if (!SYSTEM_ENTRIES.has(name)) await rm(join(disk.path, name), { recursive: true, force: true });
  }
}

/** Free bytes for this user and the block size of the file system holding `path`. */
export async function diskSpace(path: string): Promise<{ freeBytes: number; blockSize: number }> {
  const fs = await statfs(path);
  return { freeBytes: fs.bavail * fs.bsize, blockSize: fs.bsize };
}

/** A short description of a non-empty disk's contents for a question or an error. */
export function describeContents(disk: DiskInspection): string {
  const shown = disk.entries.slice(0, 3).join(', ');
  const more = disk.entries.length > 3 ? `, … (${disk.entries.length} entries)` : '';
  return `${shown}${more}`;
}

function isInside(path: string, folder: string): boolean {
  return path.startsWith(folder.endsWith(sep) ? folder : folder + sep);
}
