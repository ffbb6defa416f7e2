import { readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno, UserError } from '../../core/errors.js';
import { DISKPREP_FOLDER } from '../diskprep-state.js';
import { SEED_FILE_NAME } from '../seed-file.js';

/** What a staging location holds of Ferry's: the repository's files, the seed file, diskprep's state. */
export const STAGING_ENTRIES = ['config', 'keys', 'data', 'index', 'snapshots', 'locks', SEED_FILE_NAME, DISKPREP_FOLDER] as const;

export interface StagingRemoval {
  /** The entries of {@link STAGING_ENTRIES} that were there and are gone. */
  readonly removed: readonly string[];
  /** Anything else found in the folder: left in place, named so the user can decide. */
  readonly leftovers: readonly string[];
  /** True when the folder itself was removed (it held nothing else) or was already gone. */
  readonly folderGone: boolean;
}

/**
 * Removes Ferry's files from a staging location (see {@link STAGING_ENTRIES}) and the folder itself when
 * nothing else is in it; anything else is left and named. Idempotent: an absent folder or entry is
 * fine. A `UserError` naming the path when something cannot be removed.
 */
export async function removeStagingLocation(dir: string): Promise<StagingRemoval> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return { removed: [], leftovers: [], folderGone: true };
    throw new UserError(`cannot read the staging location ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const ours = new Set<string>(STAGING_ENTRIES);
  const removed: string[] = [];
  for (const name of names.filter((n) => ours.has(n)).sort()) {
    try {
      await rm(join(dir, name), { recursive: true, force: true });
    } catch (err) {
      throw new UserError(`cannot remove ${join(dir, name)}: ${(err as Error).message}; fix the permissions and run the cleanup again`, { cause: err });
    }
    removed.push(name);
  }
  const leftovers = names.filter((n) => !ours.has(n)).sort();
  if (leftovers.length > 0) return { removed, leftovers, folderGone: false };
  try {
    await rmdir(dir);
  } catch (err) {
    // A folder we may not remove (a mount point, a share's root) is fine to keep: it is empty now.
    if (!isErrno(err, 'ENOENT')) return { removed, leftovers, folderGone: false };
  }
  return { removed, leftovers, folderGone: true };
}
