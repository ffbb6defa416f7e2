import type { Id } from '../../core/ids.js';
import type { Storage } from '../../storage/storage.js';
import type { ErrorLogEntry } from '../../contract/ingest.js';
import { idOfContentKey, listContentObjects } from './content-objects.js';

/**
 * The snapshots the job's error log names (a file `snapshots/<id>` that did not arrive intact) and that
 * the import still lacks, sorted: they were not re-sent (no staging) and cannot be adopted, so they are
 * reported by id. Entries for other files, or whole disks (path null), are not snapshots.
 */
export async function lostSnapshots(errors: readonly ErrorLogEntry[], imported: Storage): Promise<Id[]> {
  const present = await listContentObjects(imported, 'snapshot');
  const lost = new Set<Id>();
  for (const entry of errors) {
    if (entry.path === null) continue;
    const id = idOfContentKey('snapshot', entry.path);
    if (id && !present.has(entry.path)) lost.add(id);
  }
  return [...lost].sort();
}

/** The ids of the snapshots the import holds (the seeded snapshots, once adopted), sorted. */
export async function importedSnapshots(imported: Storage): Promise<Id[]> {
  return [...(await listContentObjects(imported, 'snapshot')).keys()].map((key) => idOfContentKey('snapshot', key)!).sort();
}
