import { forEachLimit } from '../../core/concurrency.js';
import type { Id } from '../../core/ids.js';
import { folderOf, idOfKey, objectKey } from '../../storage/layout.js';
import type { IndexedPack } from '../index/index-format.js';
import type { Repository } from '../repository/repository.js';
import { packsInEffect } from '../index/index-set.js';
import { readIndexFiles, replaceIndex, type ObjectProblem } from './index-files.js';
import { readPackHeader, readWholePackHeader } from './pack-header-reader.js';

export interface IndexRepairOptions {
  /** Download every pack whole and require its SHA-256 to equal its name; otherwise read trailers and headers only. */
  readonly readData?: boolean;
  readonly onProgress?: (done: number, total: number) => void;
  /** The exclusive lock the repair runs under; checked before anything is written. */
  readonly lock?: { assertHeld(): void };
}


export type { ObjectProblem } from './index-files.js';

export interface IndexRepairReport {
  readonly packsIndexed: number;
  readonly blobsIndexed: number;
  /** Packs whose header does not authenticate, or whose size or hash is wrong; they stay in storage. */
  readonly packsSkipped: readonly ObjectProblem[];
  /** Indexed packs that no readable old index file named (left by interrupted backups, or by lost index files). */
  readonly packsAdded: number;
  /** Packs the readable old index files in effect named that are now missing or skipped. */
  readonly packsDropped: readonly Id[];
  /** Old index files that could not be read (they are replaced like the others). */
  readonly unreadableIndexFiles: readonly ObjectProblem[];
  readonly indexFilesWritten: readonly Id[];
  readonly indexFilesRemoved: readonly Id[];
}

const HEADER_READS = 8;

/**
 * Rebuilds the index from the packs themselves (`ferry repair index`). Every pack under `data/` is
 * listed and its header read ({@link readPackHeader}; with `readData`, {@link readWholePackHeader}).
 * Packs that fail are reported and left in place: once no index names them, `ferry prune` may delete them.
 *
 * Write order ({@link replaceIndex}): the new index files first, one after another; the last one
 * written lists every index file that existed before in `supersedes`, so until it is durable the old
 * files stay in effect, and after it they are ignored (`Repository.loadIndex`). Then the old files are
 * removed. A crash at any point leaves either the old index, the old one merged with some new files, or
 * the new one (with superseded files left over); running the repair again finishes it. While an
 * unreadable old file remains, `loadIndex` fails as it did before the repair. Failpoints `repair-index-written` (after each new file) and
 * `repair-index-old-removed` (after each removal).
 *
 * The caller holds an exclusive lock: a concurrent backup's index files would be superseded and removed.
 * `repo.index` is not changed; open the repository again to use the new index.
 */
export async function repairIndex(repo: Repository, options: IndexRepairOptions = {}): Promise<IndexRepairReport> {
  const packs = new Map<Id, number>();
  await repo.storage.list(folderOf('pack'), (info) => {
    const id = idOfKey('pack', info.key);
    if (id) packs.set(id, info.size);
  });
  const { files, unreadable } = await readIndexFiles(repo);
  const oldFiles = [...files.keys(), ...unreadable.map((file) => file.id)].sort();
  const previous = new Set(packsInEffect(files).keys());

  const ids = [...packs.keys()].sort();
  const found = new Map<Id, IndexedPack>();
  const packsSkipped: ObjectProblem[] = [];
  let done = 0;
  await forEachLimit(ids, HEADER_READS, async (packId) => {
    const key = objectKey('pack', packId);
    try {
      const blobs = options.readData
        ? await readWholePackHeader(repo.storage, key, repo.key.encryptionKey, packId)
        : await readPackHeader(repo.storage, key, repo.key.encryptionKey, packId, packs.get(packId)!);
      found.set(packId, { id: packId, blobs });
    } catch (err) {
      packsSkipped.push({ id: packId, problem: (err as Error).message });
    }
    options.onProgress?.(++done, ids.length);
  });
  const indexed = ids.flatMap((id) => found.get(id) ?? []);

  const written = await replaceIndex(repo, indexed, oldFiles, 'repair-index', () => options.lock?.assertHeld());
  return {
    packsIndexed: indexed.length,
    blobsIndexed: indexed.reduce((n, pack) => n + pack.blobs.length, 0),
    packsSkipped: packsSkipped.sort((a, b) => a.id.localeCompare(b.id)),
    packsAdded: indexed.filter((pack) => !previous.has(pack.id)).length,
    packsDropped: [...previous].filter((id) => !found.has(id)).sort(),
    unreadableIndexFiles: unreadable,
    indexFilesWritten: written,
    indexFilesRemoved: oldFiles,
  };
}
