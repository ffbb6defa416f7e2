import { forEachLimit } from '../../core/concurrency.js';
import type { Id } from '../../core/ids.js';
import { folderOf, idOfKey, objectKey } from '../../storage/layout.js';
import type { Storage } from '../../storage/storage.js';
import { BlobCompressor } from '../compress/zstd.js';
import { sha256Id } from '../crypto/sha256.js';
import { openIndex, openIndexBytes, sealIndex } from './index-file.js';
import { scanIndex, type IndexedPack, type IndexFile } from './index-format.js';
import type { MasterIndex } from './master-index.js';

/**
 * The index as a set of files, and the one rule every reader and rewriter shares: a file is in effect
 * unless another file lists it in `supersedes`. A rewrite (prune, repair) writes its new files first,
 * the last of them superseding all old ones, and removes the old files afterwards; a crash in between
 * leaves both, and readers see exactly one of the two states.
 */

/** A new index file holds at most this many blob entries (46 bytes each before compression), unless one pack has more. */
export const MAX_BLOBS_PER_INDEX_FILE = 65_536;

export interface UnreadableIndexFile {
  readonly id: Id;
  readonly error: Error;
}

/** Every index file in storage, opened four at a time; those that fail are returned, not thrown. */
export async function readIndexFiles(
  storage: Storage,
  encryptionKey: Uint8Array,
): Promise<{ files: Map<Id, IndexFile>; unreadable: UnreadableIndexFile[] }> {
  const ids: Id[] = [];
  await storage.list(folderOf('index'), (info) => {
    const id = idOfKey('index', info.key);
    if (id) ids.push(id);
  });
  const files = new Map<Id, IndexFile>();
  const unreadable: UnreadableIndexFile[] = [];
  const compressor = new BlobCompressor();
  await forEachLimit(ids.sort(), 4, async (id) => {
    try {
      files.set(id, openIndex(encryptionKey, await storage.load(objectKey('index', id)), compressor));
    } catch (err) {
      unreadable.push({ id, error: err instanceof Error ? err : new Error(String(err)) });
    }
  });
  return { files: new Map([...files].sort(([a], [b]) => a.localeCompare(b))), unreadable: unreadable.sort((a, b) => a.id.localeCompare(b.id)) };
}

/** Ids that some readable file supersedes (they may or may not still exist). */
export function supersededIds(files: ReadonlyMap<Id, IndexFile>): Set<Id> {
  const superseded = new Set<Id>();
  for (const file of files.values()) for (const id of file.supersedes) superseded.add(id);
  return superseded;
}

/** The packs the files in effect name, by pack id; a pack named twice keeps its first listing. */
export function packsInEffect(files: ReadonlyMap<Id, IndexFile>): Map<Id, IndexedPack> {
  const superseded = supersededIds(files);
  const packs = new Map<Id, IndexedPack>();
  for (const [id, file] of files) {
    if (superseded.has(id)) continue;
    for (const pack of file.packs) if (!packs.has(pack.id)) packs.set(pack.id, pack);
  }
  return packs;
}

/** What {@link loadIndexFiles} found besides the blobs it indexed. */
export interface IndexLoad {
  /** Readable files in effect, whose packs are now in the index; sorted. */
  readonly inEffect: Id[];
  /** Ids that some readable file supersedes (they may or may not still exist). */
  readonly superseded: ReadonlySet<Id>;
  /** Files that did not load or open, superseded or not; sorted by id. */
  readonly unreadable: UnreadableIndexFile[];
}

/**
 * Index files Ferry writes hold at most {@link MAX_BLOBS_PER_INDEX_FILE} entries (about 3 MiB) unless a
 * single pack has more; larger objects only count as unreadable files, not in the table's size estimate.
 */
const MAX_PLAUSIBLE_INDEX_FILE_BYTES = 64 * 1024 * 1024;

/** Sealed index files loaded ahead of the one being indexed. */
const LOADS_AHEAD = 4;

/**
 * Adds the packs of every readable index file in effect to `index` (which should be empty; it may be
 * cleared and filled again), with the
 * same outcome as {@link readIndexFiles} followed by {@link packsInEffect} (files in id order, the first
 * listing of a pack wins) but streaming: one file is opened at a time and its entries go straight into
 * the index's typed arrays, so memory holds the index and a few files, never an object per blob.
 * A file found superseded only after its packs were added (its superseder sorts after it: only after an
 * interrupted rewrite) makes the load start over, skipping the superseded files. Files that fail to
 * load or open are returned, not thrown.
 */
export async function loadIndexFiles(
  storage: Storage,
  encryptionKey: Uint8Array,
  index: MasterIndex,
): Promise<IndexLoad> {
  const ids: Id[] = [];
  let bytes = 0;
  await storage.list(folderOf('index'), (info) => {
    const id = idOfKey('index', info.key);
    if (id) {
      ids.push(id);
      // A stray huge object (not an index file Ferry wrote; it will not open) must not size the table.
      if (info.size <= MAX_PLAUSIBLE_INDEX_FILE_BYTES) bytes += info.size;
    }
  });
  ids.sort();
  const first = await indexFiles(storage, encryptionKey, index, ids, bytes);
  if (!first.indexed.some((id) => first.superseded.has(id))) return { ...first, inEffect: first.indexed };
  index.clear();
  const second = await indexFiles(storage, encryptionKey, index, ids.filter((id) => !first.superseded.has(id)), bytes);
  const unreadable = new Map([...first.unreadable, ...second.unreadable].map((file) => [file.id, file]));
  return {
    inEffect: second.indexed,
    superseded: first.superseded,
    unreadable: [...unreadable.values()].sort((a, b) => a.id.localeCompare(b.id)),
  };
}

/** One pass of {@link loadIndexFiles} over `ids` (sorted); `indexed` lists the files whose packs were added. */
async function indexFiles(
  storage: Storage,
  encryptionKey: Uint8Array,
  index: MasterIndex,
  ids: readonly Id[],
  totalBytes: number,
): Promise<{ indexed: Id[]; superseded: Set<Id>; unreadable: UnreadableIndexFile[] }> {
  const compressor = new BlobCompressor();
  const superseded = new Set<Id>();
  const indexed: Id[] = [];
  const unreadable: UnreadableIndexFile[] = [];
  const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
  // Loads run ahead; files are opened and indexed strictly in id order.
  const loads: Promise<Buffer | Error>[] = [];
  let next = 0;
  const loadAhead = (): void => {
    while (next < ids.length && loads.length < LOADS_AHEAD) {
      loads.push(storage.load(objectKey('index', ids[next++]!)).catch(asError));
    }
  };
  for (const id of ids) {
    loadAhead();
    const loaded = await loads.shift()!;
    if (loaded instanceof Error) {
      unreadable.push({ id, error: loaded });
      continue;
    }
    let bytes: Buffer;
    let scanned: ReturnType<typeof scanIndex>;
    try {
      bytes = openIndexBytes(encryptionKey, loaded, compressor);
      scanned = scanIndex(bytes);
    } catch (err) {
      unreadable.push({ id, error: asError(err) });
      continue;
    }
    for (const old of scanned.supersedes) superseded.add(old);
    if (superseded.has(id)) continue;
    if (indexed.length === 0) {
      // Files are alike (same writer, same compression): the first one's entries per stored byte, times
      // all stored bytes, sizes the table once instead of growing it step by step (less time, and no
      // freed shards left to fragment the heap).
      let entries = 0;
      for (const pack of scanned.packs) entries += pack.count;
      index.reserve((entries / loaded.length) * totalBytes);
    }
    for (const pack of scanned.packs) index.addScannedPack(bytes, pack);
    indexed.push(id);
  }
  return { indexed, superseded, unreadable };
}

export interface WriteIndexOptions {
  readonly maxBlobs?: number;
  /** Called after each file is durable (failpoints). */
  readonly onWritten?: (id: Id) => void;
}

/**
 * Writes index files naming exactly `packs`, at most {@link MAX_BLOBS_PER_INDEX_FILE} blob entries each
 * (a pack is never split), one after another; only the last lists `supersedes`. With no packs but
 * files to supersede, one empty file does that; with neither, nothing is written. Removes nothing.
 * Returns the new files' ids in write order.
 */
export async function writeIndexFiles(
  storage: Storage,
  encryptionKey: Uint8Array,
  packs: readonly IndexedPack[],
  supersedes: readonly Id[],
  options: WriteIndexOptions = {},
): Promise<Id[]> {
  const maxBlobs = options.maxBlobs ?? MAX_BLOBS_PER_INDEX_FILE;
  const groups: IndexedPack[][] = [];
  let current: IndexedPack[] = [];
  let blobs = 0;
  for (const pack of packs) {
    if (current.length > 0 && blobs + pack.blobs.length > maxBlobs) {
      groups.push(current);
      current = [];
      blobs = 0;
    }
    current.push(pack);
    blobs += pack.blobs.length;
  }
  if (current.length > 0 || (groups.length === 0 && supersedes.length > 0)) groups.push(current);

  const compressor = new BlobCompressor();
  const written: Id[] = [];
  for (const [i, group] of groups.entries()) {
    const bytes = sealIndex(encryptionKey, { packs: group, supersedes: i === groups.length - 1 ? supersedes : [] }, compressor);
    const id = sha256Id(bytes);
    await storage.save(objectKey('index', id), bytes, { length: bytes.length });
    written.push(id);
    options.onWritten?.(id);
  }
  return written;
}
