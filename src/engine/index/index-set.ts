import { forEachLimit } from '../../core/concurrency.js';
import type { Id } from '../../core/ids.js';
import { folderOf, idOfKey, objectKey } from '../../storage/layout.js';
import type { Storage } from '../../storage/storage.js';
import { BlobCompressor } from '../compress/zstd.js';
import { sha256Id } from '../crypto/sha256.js';
import { openIndex, sealIndex } from './index-file.js';
import type { IndexedPack, IndexFile } from './index-format.js';

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
