import { withContext } from '../../core/errors.js';
import { shortId, type Id } from '../../core/ids.js';
import type { Repository, SnapshotRecord } from '../../engine/repository/repository.js';
import { decodeTree } from '../../engine/snapshot/tree-format.js';
import { idOfContentKey, listContentObjects } from './content-objects.js';

/** A snapshot that cannot be restored whole from the repository, with what is wrong. */
export interface SnapshotDefect {
  readonly id: Id;
  readonly time: string;
  readonly paths: readonly string[];
  /** How many trees and data blobs are unusable (not indexed, in a missing or short pack, unreadable). */
  readonly defects: number;
  /** The first problem found, for the message. */
  readonly first: string;
}

/** What one tree (with everything below it) is missing; memoized, as snapshots share most trees. */
interface TreeHealth {
  defects: number;
  first: string | undefined;
}

/**
 * The snapshots among `records` that are not whole in `repo` (whose index must be loaded): every tree must
 * be indexed, load and decode, and every tree and data blob must be indexed in a pack that is present with
 * the size the index gives. Reads every tree once (shared trees are checked once for all snapshots);
 * reads no data. Returns the defective ones, in the order of `records`.
 */
export async function snapshotsNotWhole(repo: Repository, records: readonly SnapshotRecord[]): Promise<SnapshotDefect[]> {
  const packSizes = new Map<Id, number>();
  for (const [key, size] of await listContentObjects(repo.storage, 'pack')) packSizes.set(idOfContentKey('pack', key)!, size);
  const usable = (packId: Id): boolean => packSizes.get(packId) === repo.index.packs().get(packId);
  const memo = new Map<Id, TreeHealth>();

  const treeHealth = async (tree: Id): Promise<TreeHealth> => {
    const known = memo.get(tree);
    if (known) return known;
    const health: TreeHealth = { defects: 0, first: undefined };
    memo.set(tree, health);
    const problem = (text: string): void => {
      health.defects++;
      health.first ??= text;
    };
    const location = repo.index.find('tree', tree);
    if (!location) {
      problem(`tree ${shortId(tree)} is not in the index`);
      return health;
    }
    if (!usable(location.packId)) {
      problem(`tree ${shortId(tree)} is in pack ${shortId(location.packId)}, which is missing or damaged`);
      return health;
    }
    let nodes;
    try {
      nodes = decodeTree(await repo.loadBlob('tree', tree));
    } catch (err) {
      problem(withContext(`tree ${shortId(tree)}`, err).message);
      return health;
    }
    for (const node of nodes) {
      for (const id of node.content ?? []) {
        const blob = repo.index.find('data', id);
        if (!blob) problem(`data of ${node.name.toString()} (blob ${shortId(id)}) is not in the index`);
        else if (!usable(blob.packId)) problem(`data of ${node.name.toString()} is in pack ${shortId(blob.packId)}, which is missing or damaged`);
      }
      if (node.subtree) {
        const below = await treeHealth(node.subtree);
        health.defects += below.defects;
        health.first ??= below.first;
      }
    }
    return health;
  };

  const defects: SnapshotDefect[] = [];
  for (const { id, snapshot } of records) {
    const health = await treeHealth(snapshot.tree);
    if (health.defects > 0) defects.push({ id, time: snapshot.time, paths: snapshot.paths, defects: health.defects, first: health.first ?? 'damaged' });
  }
  return defects;
}

/** One line per defective snapshot: "snapshot 1a2b3c4d of 2026-…, /srv/data: 3 problems, first: …". */
export function describeDefect(defect: SnapshotDefect): string {
  return `snapshot ${shortId(defect.id)} of ${defect.time} (${defect.paths.join(', ')}): ${defect.defects} missing part${defect.defects === 1 ? '' : 's'}, first: ${defect.first}`;
}
