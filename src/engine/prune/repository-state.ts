import { shortId, type Id } from '../../core/ids.js';
import { folderOf, idOfKey } from '../../storage/layout.js';
import type { IndexedPack } from '../index/index-format.js';
import { packsInEffect, readIndexFiles, supersededIds } from '../index/index-set.js';
import { packSizeOf } from '../pack/pack-format.js';
import type { Repository } from '../repository/repository.js';
import { PruneRefusedError } from './prune-refused-error.js';

/** What prune starts from: the index files, the packs they name, and the packs actually stored. */
export interface RepositoryState {
  /** Every index file under `index/`, in effect or superseded. */
  readonly indexFiles: readonly Id[];
  /** Index files that another index file supersedes (left by an interrupted prune); readers ignore them. */
  readonly supersededIndexFiles: readonly Id[];
  /** The packs the index files in effect name, each with every one of its blobs, by pack id. */
  readonly indexedPacks: ReadonlyMap<Id, IndexedPack>;
  /** Every pack object under `data/`, with its size in bytes. */
  readonly storedPacks: ReadonlyMap<Id, number>;
}

/**
 * Reads every index file and lists the stored packs. Which files are in effect follows index-set.ts,
 * the rule `Repository.loadIndex` applies too. Does not use or change `repo.index`.
 *
 * Throws {@link PruneRefusedError}, listing every problem found, when an index file in effect cannot be read or
 * an indexed pack is missing or has another size than its index entries give: prune must not decide
 * what is garbage from an index it cannot trust. Storage failures while listing propagate.
 */
export async function loadRepositoryState(repo: Repository): Promise<RepositoryState> {
  const indexFiles = await repo.listIds('index');
  const { files, unreadable } = await readIndexFiles(repo.storage, repo.key.encryptionKey);
  const superseded = supersededIds(files);
  const problems = unreadable
    .filter((file) => !superseded.has(file.id))
    .map((file) => `index file ${shortId(file.id)} cannot be read (${file.error.message})`);
  if (problems.length > 0) throw new PruneRefusedError(problems.sort());
  const indexedPacks = packsInEffect(files);

  const storedPacks = new Map<Id, number>();
  await repo.storage.list(folderOf('pack'), (info) => {
    const id = idOfKey('pack', info.key);
    if (id) storedPacks.set(id, info.size);
  });
  for (const [id, pack] of indexedPacks) {
    const size = storedPacks.get(id);
    const expected = packSizeOf(pack.blobs);
    if (size === undefined) problems.push(`pack ${shortId(id)} is missing`);
    else if (size !== expected) problems.push(`pack ${shortId(id)} has ${size} bytes, the index says ${expected}`);
  }
  if (problems.length > 0) throw new PruneRefusedError(problems.sort());

  return {
    indexFiles: [...indexFiles].sort(),
    supersededIndexFiles: indexFiles.filter((id) => superseded.has(id)).sort(),
    indexedPacks,
    storedPacks,
  };
}
