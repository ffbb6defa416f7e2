import { UserError } from '../../core/errors.js';
import { noFailpoints } from '../../core/failpoints.js';
import { shortId, type Id } from '../../core/ids.js';
import { objectKey } from '../../storage/layout.js';
import { displayPath } from '../fs/byte-path.js';
import { RepositoryWriter } from '../repository/repository-writer.js';
import type { Repository, SnapshotRecord } from '../repository/repository.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import { BlobHealth } from './blob-health.js';
import { packsInEffect } from '../index/index-set.js';
import { readIndexFiles, replaceIndex } from './index-files.js';
import { TreeSalvager, type LostItem } from './tree-salvager.js';

export interface SnapshotRepairOptions {
  /** Remove each damaged original once its repaired snapshot is saved (and unrepairable ones). */
  readonly forget?: boolean;
  /** Work out and report everything, write and remove nothing. */
  readonly dryRun?: boolean;
  /** Also download data packs and authenticate every blob the snapshots need (slow). */
  readonly readData?: boolean;
  /** The exclusive lock the repair runs under; checked before the first write. */
  readonly lock?: { assertHeld(): void };
}

/** A path the repaired snapshot no longer holds (printable, as in `skipped`) and why. */
export interface LostPath {
  readonly path: string;
  readonly reason: string;
}

/**
 * `unreadable`: the snapshot file itself does not open (altered bytes, another key, a malformed document),
 * so nothing of it can be salvaged; with `forget` the file is removed.
 */
export type SnapshotOutcome =
  | { readonly kind: 'repaired'; readonly id: Id; readonly newId: Id | undefined; readonly lost: readonly LostPath[]; readonly forgotten: boolean }
  | { readonly kind: 'unrepairable'; readonly id: Id; readonly rootTree: Id; readonly reason: string; readonly forgotten: boolean }
  | { readonly kind: 'unreadable'; readonly id: Id; readonly reason: string; readonly forgotten: boolean };

export interface SnapshotRepairReport {
  /** Snapshot files looked at, readable or not. */
  readonly snapshotsChecked: number;
  /** Damaged snapshots, oldest first, then the unreadable snapshot files by id; whole snapshots are not listed. */
  readonly outcomes: readonly SnapshotOutcome[];
  /** Packs in storage no index names: blobs reported missing may be in them (`ferry repair index`). */
  readonly unindexedPacks: number;
  /** Indexed packs that are missing or of the wrong size, removed from the index (in a dry run: to be). */
  readonly packsDroppedFromIndex: readonly Id[];
  readonly dryRun: boolean;
}

/** The tag every repaired snapshot carries. */
export const REPAIRED_TAG = 'repaired';

/**
 * `ferry repair snapshots`: for every snapshot whose trees or content cannot be read (not indexed,
 * pack missing or of the wrong size, blob that does not decode), writes a new snapshot without what is
 * lost ({@link TreeSalvager}). The new snapshot copies the original's fields (time, paths, host,
 * parent, summary, …), adds the tag `repaired` and appends to `skipped` one `{ path, error: 'lost: …' }`
 * per lost file or directory. A snapshot whose root tree is lost cannot be repaired. Whole snapshots
 * are not touched.
 *
 * Write order, when anything is damaged: (1) the index is rewritten without the packs that are missing
 * or of the wrong size ({@link replaceIndex}, failpoints `repair-snapshots-index-written` and
 * `repair-snapshots-index-old-removed`), so a tree stored again below is never shadowed by a stale
 * location of the same id; (2) every new tree is saved and indexed (`flush`); (3) the new snapshots,
 * failpoint `repair-snapshot-saved` after each; (4) with `forget`, the originals, each only after its
 * replacement is saved. New trees go through a writer over the index minus the damage, so a tree equal
 * to a lost one is stored again rather than deduplicated against it. A crash anywhere leaves a
 * repository that a new run repairs. A snapshot file that does not open at all is reported as
 * `unreadable` and, with `forget`, removed (step 4); it does not stop the others from being repaired.
 * Loads the index itself (`UserError` when it cannot: run `ferry repair index`). The caller holds an
 * exclusive lock.
 */
export async function repairSnapshots(repo: Repository, options: SnapshotRepairOptions = {}): Promise<SnapshotRepairReport> {
  await repo.loadIndex().catch((err: unknown) => {
    throw new UserError(`the index cannot be loaded (${(err as Error).message}): run \`ferry repair index\` first`, { cause: err });
  });
  const { snapshots, unreadable } = await repo.readSnapshots();
  const health = await BlobHealth.create(repo, options.readData ?? false);
  const salvager = new TreeSalvager(repo, health);
  const damaged: { record: SnapshotRecord; tree: Id; lost: LostPath[] }[] = [];
  const outcomes: SnapshotOutcome[] = [];
  for (const record of snapshots) {
    const result = await salvager.salvage(record.snapshot.tree);
    if (!result.ok) {
      outcomes.push({ kind: 'unrepairable', id: record.id, rootTree: record.snapshot.tree, reason: result.reason, forgotten: false });
    } else if (result.lost.length > 0) {
      damaged.push({ record, tree: result.tree, lost: result.lost.map(lostPath) });
    }
  }

  const dryRun = options.dryRun ?? false;
  const assertHeld = (): void => options.lock?.assertHeld();
  const dropped = damaged.length > 0 || (options.forget && outcomes.length > 0) ? health.badIndexedPacks() : [];
  const unopened: SnapshotOutcome[] = unreadable.map((bad) => ({ kind: 'unreadable', id: bad.id, reason: bad.error.message, forgotten: false }));
  if (!dryRun && (damaged.length > 0 || (options.forget && outcomes.length > 0))) {
    assertHeld();
    if (dropped.length > 0) await dropPacks(repo, new Set(dropped), assertHeld);
    if (damaged.length > 0) await saveTrees(repo, health, salvager.newTrees);
  }
  for (const { record, tree, lost } of damaged) {
    let newId: Id | undefined;
    if (!dryRun) {
      assertHeld();
      newId = await repo.saveSnapshot(repairedSnapshot(record.snapshot, tree, lost));
      repo.context.failpoints?.hit('repair-snapshot-saved');
      if (options.forget) {
        assertHeld();
        await repo.storage.remove(objectKey('snapshot', record.id));
      }
    }
    outcomes.push({ kind: 'repaired', id: record.id, newId, lost, forgotten: (options.forget ?? false) && !dryRun });
  }
  for (const [i, outcome] of outcomes.entries()) {
    if (outcome.kind !== 'unrepairable' || !options.forget || dryRun) continue;
    assertHeld();
    await repo.storage.remove(objectKey('snapshot', outcome.id));
    outcomes[i] = { ...outcome, forgotten: true };
  }
  const order = new Map(snapshots.map((r, i) => [r.id, i]));
  outcomes.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
  for (const outcome of unopened) {
    if (options.forget && !dryRun) {
      assertHeld();
      await repo.storage.remove(objectKey('snapshot', outcome.id));
    }
    outcomes.push({ ...outcome, forgotten: (options.forget ?? false) && !dryRun });
  }
  return { snapshotsChecked: snapshots.length + unreadable.length, outcomes, unindexedPacks: health.unindexedPacks(), packsDroppedFromIndex: dropped, dryRun };
}

/** The original's fields with the salvaged tree, the `repaired` tag and the losses appended to `skipped`. */
function repairedSnapshot(original: Snapshot, tree: Id, lost: readonly LostPath[]): Snapshot {
  return {
    ...original,
    tree,
    tags: original.tags.includes(REPAIRED_TAG) ? [...original.tags] : [...original.tags, REPAIRED_TAG],
    skipped: [...original.skipped, ...lost.map((item) => ({ path: item.path, error: `lost: ${item.reason}` }))],
  };
}

/** Rewrites the index without `packs`; every index file must be readable (the index was just loaded). */
async function dropPacks(repo: Repository, packs: ReadonlySet<Id>, assertHeld: () => void): Promise<void> {
  const { files, unreadable } = await readIndexFiles(repo);
  if (unreadable.length > 0) throw new UserError(`index ${shortId(unreadable[0]!.id)} cannot be read (${unreadable[0]!.problem}): run \`ferry repair index\` first`);
  const kept = [...packsInEffect(files).values()].filter((pack) => !packs.has(pack.id));
  await replaceIndex(repo, kept, [...files.keys()], 'repair-snapshots-index', assertHeld);
}

/** Stores the salvaged trees through a writer over the sound part of the index, then flushes. */
async function saveTrees(repo: Repository, health: BlobHealth, trees: ReadonlyMap<Id, Buffer>): Promise<void> {
  if (trees.size === 0) return;
  const writer = new RepositoryWriter(repo.storage, repo.key, health.soundIndex(), repo.config.packSize, repo.config.compressionLevel, repo.context.failpoints ?? noFailpoints);
  try {
    for (const [id, bytes] of trees) {
      const saved = await writer.save('tree', bytes);
      if (saved.id !== id) throw new Error(`bug: tree id ${saved.id} differs from the precomputed ${id}`);
    }
    await writer.flush();
  } finally {
    await writer.close();
  }
}

function lostPath(item: LostItem): LostPath {
  const path = Buffer.concat(item.segments.flatMap((segment) => [Buffer.from('/'), segment]));
  return { path: displayPath(path), reason: item.reason };
}
