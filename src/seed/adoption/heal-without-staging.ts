import type { Id } from '../../core/ids.js';
import { readIndexFiles, supersededIds, writeIndexFiles } from '../../engine/index/index-set.js';
import type { Storage } from '../../storage/storage.js';
import { contentKey, idOfContentKey, listContentObjects } from './content-objects.js';

/** What {@link replaceIndexesNamingLostPacks} did. */
export interface IndexReplacement {
  /** Import keys (`index/<id>`) not to adopt: every index file that names a lost pack, or cannot be read. */
  readonly exclude: readonly string[];
  /** Replacement index files written into the import (none on a resumed run that wrote them already). */
  readonly written: readonly Id[];
  /** Packs some index file names that the import does not hold. */
  readonly lostPacks: readonly Id[];
  /** Index files of the import that do not open with the repository's key (excluded too). */
  readonly unreadable: readonly Id[];
}

/**
 * Makes the import's index consistent with the packs it holds, for when staging is gone and lost packs
 * cannot be re-sent: every index file in effect that names a pack absent from the import gets a
 * replacement (written into the import) that names the same packs except the lost ones and supersedes
 * it; the original is excluded from adoption, as is any superseded file naming a lost pack and any file
 * that does not open. The blobs of the lost packs are then simply unknown to the vault, so the next
 * backup reads their data again from the source (the archiver re-reads a file whose blobs are not all
 * indexed).
 *
 * Idempotent: on a resumed run the originals are superseded by their replacements, which name no lost
 * pack, so nothing is written twice. Needs the repository's encryption key (the import has no keys).
 */
export async function replaceIndexesNamingLostPacks(imported: Storage, encryptionKey: Uint8Array): Promise<IndexReplacement> {
  const present = new Set<Id>();
  for (const key of (await listContentObjects(imported, 'pack')).keys()) present.add(idOfContentKey('pack', key)!);
  const { files, unreadable } = await readIndexFiles(imported, encryptionKey);
  const superseded = supersededIds(files);
  const exclude: string[] = unreadable.map(({ id }) => contentKey('index', id));
  const lostPacks = new Set<Id>();
  const written: Id[] = [];
  for (const [id, file] of files) {
    const lost = file.packs.filter((pack) => !present.has(pack.id));
    if (lost.length === 0) continue;
    for (const pack of lost) lostPacks.add(pack.id);
    exclude.push(contentKey('index', id));
    if (superseded.has(id)) continue;
    const kept = file.packs.filter((pack) => present.has(pack.id));
    written.push(...(await writeIndexFiles(imported, encryptionKey, kept, [...file.supersedes, id])));
  }
  return { exclude: exclude.sort(), written, lostPacks: [...lostPacks].sort(), unreadable: unreadable.map(({ id }) => id) };
}
