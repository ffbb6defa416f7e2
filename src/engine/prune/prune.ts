import { forEachLimit } from '../../core/concurrency.js';
import { UserError, withContext } from '../../core/errors.js';
import { noFailpoints } from '../../core/failpoints.js';
import { shortId, type Id } from '../../core/ids.js';
import { objectKey } from '../../storage/layout.js';
import type { Repository } from '../repository/repository.js';
import { writeIndexFiles } from '../index/index-set.js';
import { estimateRepackedBytes, planPrune } from './prune-plan.js';
import { repackBlobs } from './repacker.js';
import { loadRepositoryState } from './repository-state.js';
import { findUsedBlobs } from './used-blobs.js';

export { PruneRefusedError } from './prune-refused-error.js';

export interface PruneOptions {
  /** Work out and report what prune would do, and change nothing. */
  readonly dryRun?: boolean;
  /**
   * Repack a partly used pack when more than this share of its bytes is unused (default 0.5, as in
   * restic; 0..1). 0 repacks every pack with an unused blob; 1 never repacks, only whole unused packs go.
   */
  readonly repackUnusedShare?: number;
  /** One line at a time about what prune is doing, for a progress display. */
  readonly onProgress?: (message: string) => void;
  /**
   * The exclusive lock the caller holds. When given, `assertHeld()` is called before the new index is
   * written and before every deletion, so a prune whose lock went stale (and which another process may
   * have ignored) stops before it deletes data a newer backup relies on.
   */
  readonly lock?: { assertHeld(): void };
}

export interface PruneReport {
  /** Packs deleted whole: indexed packs with no used blob, and stored packs no index names. Not counting repacked ones. */
  packsDeleted: number;
  /** Partly used packs whose used blobs were copied into new packs, and which were then deleted. */
  packsRepacked: number;
  /** Indexed packs left as they are. */
  packsKept: number;
  /** Bytes of all deleted packs minus the bytes of the new packs (estimated in a dry run). */
  bytesFreed: number;
  /** Index entries dropped: the blobs of deleted packs and the unused blobs of repacked packs. */
  blobsRemoved: number;
  /** Old index files replaced by the new index and deleted (including ones an interrupted prune had already replaced). */
  indexFilesRewritten: number;
  /** Leftovers of saves a killed process never finished (temporary files), removed; 0 in a dry run. */
  interruptedSavesRemoved: number;
  dryRun: boolean;
}

export const DEFAULT_REPACK_UNUSED_SHARE = 0.5;
const REMOVALS = 8;

/**
 * Deletes what no snapshot needs: marks every blob reachable from every snapshot, deletes packs with
 * no used blob and packs no index file names (left by interrupted backups), copies the used blobs of
 * mostly unused packs into new packs, and replaces the index to match.
 *
 * Write order, so that a crash anywhere leaves a repository that `check` accepts and that another prune
 * finishes: (1) new packs; (2) the new index file(s), the last one superseding every old index file;
 * (3) delete the old index files; (4) delete the unused, repacked and unindexed packs. Failpoints
 * `prune-packs-written`, `prune-index-written`, `prune-old-index-removed` mark the end of steps 1-3,
 * `prune-pack-removed` each deleted pack. When nothing is deleted from an index, no index is written.
 * Last, (5) the storage's leftovers of interrupted saves are removed (Storage.removeInterruptedSaves).
 *
 * The caller holds an exclusive lock (and passes it as `lock`): a backup running meanwhile could lose
 * the data it deduplicated against. Refuses with {@link PruneRefusedError} (a `UserError` saying what
 * is wrong and what to do) before deleting anything when the repository is damaged: an index file
 * cannot be read, an indexed pack is missing or has the wrong size, a snapshot cannot be read, or a
 * tree or data blob a snapshot reaches is not in the index or does not authenticate. Storage errors
 * propagate; nothing is deleted before step 3. Neither uses nor updates `repo.index`: open the
 * repository again to read through it afterwards.
 */
export async function pruneRepository(repo: Repository, options: PruneOptions): Promise<PruneReport> {
  const threshold = options.repackUnusedShare ?? DEFAULT_REPACK_UNUSED_SHARE;
  if (!(threshold >= 0 && threshold <= 1)) throw new UserError(`the repack threshold must be a share between 0 and 1, not ${threshold}`);
  const say = options.onProgress ?? ((): void => undefined);

  say('loading the index');
  const state = await loadRepositoryState(repo);
  say('finding the data snapshots use');
  const used = await findUsedBlobs(repo, state.indexedPacks, say);
  say(`${used.snapshots} snapshots use ${used.blobs.size} blobs in ${used.trees} trees`);
  const plan = planPrune(state.indexedPacks, state.storedPacks, used.blobs, threshold);
  const rewriteIndex = plan.remove.length > 0 || plan.repack.length > 0;
  const oldIndexFiles = rewriteIndex ? state.indexFiles : state.supersededIndexFiles;
  const doomed = [...plan.remove, ...plan.repack.map((job) => job.pack.id), ...plan.unindexed];
  const counts = {
    packsDeleted: plan.remove.length + plan.unindexed.length,
    packsRepacked: plan.repack.length,
    packsKept: plan.keep.length,
    blobsRemoved: plan.blobsRemoved,
    indexFilesRewritten: oldIndexFiles.length,
  };
  if (options.dryRun) {
    return { ...counts, bytesFreed: plan.bytesToDelete - estimateRepackedBytes(plan.repack, repo.config.packSize), interruptedSavesRemoved: 0, dryRun: true };
  }

  const failpoints = repo.context.failpoints ?? noFailpoints;
  const assertHeld = (): void => options.lock?.assertHeld();
  if (plan.repack.length > 0) say(`repacking ${plan.repack.length} packs`);
  const repacked = await repackBlobs(repo, plan.repack, say);
  failpoints.hit('prune-packs-written');
  if (rewriteIndex) {
    say('writing the new index');
    assertHeld();
    await writeIndexFiles(repo.storage, repo.key.encryptionKey, [...plan.keep, ...repacked.packs], state.indexFiles);
  }
  failpoints.hit('prune-index-written');
  await removeAll(repo, 'index', oldIndexFiles, assertHeld, () => undefined);
  failpoints.hit('prune-old-index-removed');
  if (doomed.length > 0) say(`deleting ${doomed.length} packs`);
  await removeAll(repo, 'pack', doomed, assertHeld, () => failpoints.hit('prune-pack-removed'));
  // The exclusive lock means no backup, prune or repair saves meanwhile: every temporary file in these
  // folders is a leftover. (locks/ is left alone: other processes save lock objects while trying to lock.)
  let interruptedSavesRemoved = 0;
  if (repo.storage.removeInterruptedSaves) {
    assertHeld();
    interruptedSavesRemoved = await repo.storage.removeInterruptedSaves(['data', 'index', 'snapshots', 'keys']);
  }
  return { ...counts, bytesFreed: plan.bytesToDelete - repacked.bytesWritten, interruptedSavesRemoved, dryRun: false };
}

/**
 * Removes the objects, several at once, calling `allowed` before and `removed` after each. After a
 * failure (of either, or of a removal) no new removal starts, and the first failure is thrown once those
 * in flight have ended.
 */
async function removeAll(repo: Repository, kind: 'index' | 'pack', ids: readonly Id[], allowed: () => void, removed: () => void): Promise<void> {
  let failure: Error | undefined;
  await forEachLimit(ids, REMOVALS, async (id) => {
    if (failure !== undefined) return;
    try {
      allowed();
    } catch (err) {
      failure ??= asError(err);
      return;
    }
    try {
      await repo.storage.remove(objectKey(kind, id));
    } catch (err) {
      failure ??= withContext(`deleting ${kind === 'pack' ? 'pack' : 'index file'} ${shortId(id)}`, err);
      return;
    }
    try {
      removed();
    } catch (err) {
      failure ??= asError(err);
    }
  });
  if (failure !== undefined) throw failure;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
