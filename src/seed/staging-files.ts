import type { Storage } from '../storage/storage.js';
import type { PlannedFile } from './disk-types.js';
import { CARRIED_FOLDERS, isCarriedPath } from './disk-format.js';

/**
 * The staging files that go onto disks: every object under snapshots/, index/ and data/, listed in that
 * order so that a backup writing to staging meanwhile cannot leave a listed snapshot without its index
 * or packs (they are written before it). Sorted by path.
 */
export async function listStagingFiles(staging: Storage): Promise<PlannedFile[]> {
  const files: PlannedFile[] = [];
  for (const folder of CARRIED_FOLDERS) {
    await staging.list(`${folder}/`, (info) => {
      if (isCarriedPath(info.key)) files.push({ path: info.key, size: info.size });
    });
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
