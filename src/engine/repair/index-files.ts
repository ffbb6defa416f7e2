import { forEachLimit } from '../../core/concurrency.js';
import type { Id } from '../../core/ids.js';
import { objectKey } from '../../storage/layout.js';
import { BlobCompressor } from '../compress/zstd.js';
import { sha256Id } from '../crypto/sha256.js';
import { openIndex, sealIndex } from '../index/index-file.js';
import type { IndexedPack, IndexFile } from '../index/index-format.js';
import type { Repository } from '../repository/repository.js';

/** An object left out or replaced, and why. */
export interface ObjectProblem {
  readonly id: Id;
  readonly problem: string;
}

/** A new index file is closed once it holds this many blobs, so no single file grows without bound. */
const BLOBS_PER_INDEX_FILE = 100_000;

/** Every index file under `index/`, opened one by one; those that fail are listed, not thrown. */
export async function readIndexFiles(repo: Repository): Promise<{ files: Map<Id, IndexFile>; unreadable: ObjectProblem[] }> {
  const files = new Map<Id, IndexFile>();
  const unreadable: ObjectProblem[] = [];
  const compressor = new BlobCompressor();
  await forEachLimit(await repo.listIds('index'), 4, async (id) => {
    try {
      files.set(id, openIndex(repo.key.encryptionKey, await repo.storage.load(objectKey('index', id)), compressor));
    } catch (err) {
      unreadable.push({ id, problem: (err as Error).message });
    }
  });
  return { files, unreadable: unreadable.sort((a, b) => a.id.localeCompare(b.id)) };
}

/** The packs of the files in effect (not superseded by another file), as `Repository.loadIndex` reads them. */
export function packsInEffect(files: ReadonlyMap<Id, IndexFile>): IndexedPack[] {
  const superseded = new Set<Id>();
  for (const file of files.values()) for (const id of file.supersedes) superseded.add(id);
  const packs = new Map<Id, IndexedPack>();
  for (const [id, file] of files) {
    if (superseded.has(id)) continue;
    for (const pack of file.packs) if (!packs.has(pack.id)) packs.set(pack.id, pack);
  }
  return [...packs.values()];
}

/**
 * Replaces the index by one naming exactly `packs`, then removes `old`. The new files are saved one
 * after another in files of at most {@link BLOBS_PER_INDEX_FILE} blobs; only the last lists `old` in
 * `supersedes`, so until it is durable the old files stay in effect, and after it they are ignored.
 * With no packs but old files to replace, one empty file does that; with neither, nothing is written.
 * Failpoint `<failpoint>-written` after each new file, `<failpoint>-old-removed` after each removal.
 * Returns the new files' ids. The caller holds an exclusive lock.
 */
export async function replaceIndex(repo: Repository, packs: readonly IndexedPack[], old: readonly Id[], failpoint: string): Promise<Id[]> {
  const groups: IndexedPack[][] = [];
  let current: IndexedPack[] = [];
  let blobs = 0;
  for (const pack of packs) {
    if (current.length > 0 && blobs + pack.blobs.length > BLOBS_PER_INDEX_FILE) {
      groups.push(current);
      current = [];
      blobs = 0;
    }
    current.push(pack);
    blobs += pack.blobs.length;
  }
  if (current.length > 0 || (groups.length === 0 && old.length > 0)) groups.push(current);

  const compressor = new BlobCompressor();
  const written: Id[] = [];
  for (const [i, group] of groups.entries()) {
    const sealed = sealIndex(repo.key.encryptionKey, { packs: group, supersedes: i === groups.length - 1 ? old : [] }, compressor);
    const id = sha256Id(sealed);
    await repo.storage.save(objectKey('index', id), sealed, { length: sealed.length });
    repo.context.failpoints?.hit(`${failpoint}-written`);
    written.push(id);
  }
  for (const id of old) {
    await repo.storage.remove(objectKey('index', id));
    repo.context.failpoints?.hit(`${failpoint}-old-removed`);
  }
  return written;
}
