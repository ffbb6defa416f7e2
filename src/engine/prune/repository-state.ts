import { forEachLimit } from '../../core/concurrency.js';
import { shortId, type Id } from '../../core/ids.js';
import { folderOf, idOfKey, objectKey } from '../../storage/layout.js';
import { BlobCompressor } from '../compress/zstd.js';
import { openIndex } from '../index/index-file.js';
import type { IndexedPack, IndexFile } from '../index/index-format.js';
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

const INDEX_LOADS = 4;

/**
 * Reads every index file and lists the stored packs. Index files are in effect unless another index
 * file lists them in `supersedes`, the rule `Repository.loadIndex` applies (a test keeps the two in
 * step). Does not use or change `repo.index`.
 *
 * Throws {@link PruneRefusedError}, listing every problem found, when an index file cannot be read or
 * an indexed pack is missing or has another size than its index entries give: prune must not decide
 * what is garbage from an index it cannot trust. Storage failures while listing propagate.
 */
export async function loadRepositoryState(repo: Repository): Promise<RepositoryState> {
  const indexFiles = await repo.listIds('index');
  const files = new Map<Id, IndexFile>();
  const problems: string[] = [];
  const compressor = new BlobCompressor();
  await forEachLimit(indexFiles, INDEX_LOADS, async (id) => {
    try {
      files.set(id, openIndex(repo.key.encryptionKey, await repo.storage.load(objectKey('index', id)), compressor));
    } catch (err) {
      problems.push(`index file ${shortId(id)} cannot be read (${(err as Error).message})`);
    }
  });
  if (problems.length > 0) throw new PruneRefusedError(problems.sort());

  const superseded = new Set<Id>();
  for (const file of files.values()) for (const id of file.supersedes) superseded.add(id);
  const indexedPacks = new Map<Id, IndexedPack>();
  for (const id of indexFiles) {
    if (superseded.has(id)) continue;
    for (const pack of files.get(id)!.packs) if (!indexedPacks.has(pack.id)) indexedPacks.set(pack.id, pack);
  }

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
