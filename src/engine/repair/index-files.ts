import type { Id } from '../../core/ids.js';
import { objectKey } from '../../storage/layout.js';
import type { IndexedPack, IndexFile } from '../index/index-format.js';
import { readIndexFiles as readAll, writeIndexFiles } from '../index/index-set.js';
import type { Repository } from '../repository/repository.js';

/** An object left out or replaced, and why. */
export interface ObjectProblem {
  readonly id: Id;
  readonly problem: string;
}

/** Every index file under `index/`; those that fail to open are listed, not thrown. */
export async function readIndexFiles(repo: Repository): Promise<{ files: Map<Id, IndexFile>; unreadable: ObjectProblem[] }> {
  const { files, unreadable } = await readAll(repo.storage, repo.key.encryptionKey);
  return { files, unreadable: unreadable.map(({ id, error }) => ({ id, problem: error.message })) };
}

/**
 * Replaces the index by one naming exactly `packs`, then removes `old` (write order and crash states:
 * index-set.ts). Failpoint `<failpoint>-written` after each new file, `<failpoint>-old-removed` after
 * each removal. Returns the new files' ids. The caller holds an exclusive lock and passes its check as
 * `assertHeld`, called before the first write and before every removal.
 */
export async function replaceIndex(
  repo: Repository,
  packs: readonly IndexedPack[],
  old: readonly Id[],
  failpoint: string,
  assertHeld: () => void,
): Promise<Id[]> {
  assertHeld();
  const written = await writeIndexFiles(repo.storage, repo.key.encryptionKey, packs, old, {
    onWritten: () => repo.context.failpoints?.hit(`${failpoint}-written`),
  });
  for (const id of old) {
    assertHeld();
    await repo.storage.remove(objectKey('index', id));
    repo.context.failpoints?.hit(`${failpoint}-old-removed`);
  }
  return written;
}
