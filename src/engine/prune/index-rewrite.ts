import type { Id } from '../../core/ids.js';
import { objectKey } from '../../storage/layout.js';
import { BlobCompressor } from '../compress/zstd.js';
import { sha256Id } from '../crypto/sha256.js';
import { sealIndex } from '../index/index-file.js';
import type { IndexedPack } from '../index/index-format.js';
import type { Repository } from '../repository/repository.js';

/** A new index file holds at most this many blob entries (46 bytes each before compression), unless one pack has more. */
export const MAX_BLOBS_PER_INDEX_FILE = 65_536;

/**
 * Replaces the repository's index: writes index files naming exactly `packs`, the last of which lists
 * `supersedes` (every old index file), and returns their ids in write order. Packs are split across
 * files of at most `maxBlobs` blob entries, a pack never being split; with no packs one empty file is
 * written, since something must supersede the old files.
 *
 * Crash safety: the files are written one after another and only the last supersedes anything. Until it
 * is durable the old files stay in effect and the new ones merely repeat some of their packs (plus new
 * packs), which readers merge; once it is durable the old files are ignored. Never removes anything.
 */
export async function writeIndexFiles(
  repo: Repository,
  packs: readonly IndexedPack[],
  supersedes: readonly Id[],
  maxBlobs = MAX_BLOBS_PER_INDEX_FILE,
): Promise<Id[]> {
  const groups: IndexedPack[][] = [[]];
  let blobs = 0;
  for (const pack of packs) {
    const current = groups[groups.length - 1]!;
    if (current.length > 0 && blobs + pack.blobs.length > maxBlobs) {
      groups.push([pack]);
      blobs = pack.blobs.length;
    } else {
      current.push(pack);
      blobs += pack.blobs.length;
    }
  }
  const compressor = new BlobCompressor();
  const written: Id[] = [];
  for (const [i, group] of groups.entries()) {
    const last = i === groups.length - 1;
    const bytes = sealIndex(repo.key.encryptionKey, { packs: group, supersedes: last ? supersedes : [] }, compressor);
    const id = sha256Id(bytes);
    await repo.storage.save(objectKey('index', id), bytes, { length: bytes.length });
    written.push(id);
  }
  return written;
}
