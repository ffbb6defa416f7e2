import { forEachLimit } from '../../core/concurrency.js';
import { shortId, type Id } from '../../core/ids.js';
import type { IndexedPack } from '../index/index-format.js';
import { displayPath } from '../fs/byte-path.js';
import { MasterIndex } from '../index/master-index.js';
import { BlobReader } from '../repository/blob-reader.js';
import type { Repository, SnapshotRecord } from '../repository/repository.js';
import { decodeTree, type TreeNode } from '../snapshot/tree-format.js';
import { PruneRefusedError } from './prune-refused-error.js';

/** The blobs that snapshots reach, and how much was walked to find them. */
export interface UsedBlobs {
  /** Ids of every tree and data blob some snapshot reaches. */
  readonly blobs: ReadonlySet<Id>;
  readonly snapshots: number;
  readonly trees: number;
}

const TREE_LOADS = 4;

/**
 * Marks every blob reachable from every snapshot: the root trees, their subtrees recursively and the
 * data blobs their files name. Each tree is read once, however many snapshots share it. Trees are read
 * through an index built from `indexedPacks`, not through `repo.index`.
 *
 * Throws {@link PruneRefusedError} naming every problem when a snapshot cannot be read, a tree or data
 * blob it reaches is not in the index, or a tree cannot be read or decoded: prune would otherwise treat
 * data that a snapshot needs as garbage.
 */
export async function findUsedBlobs(
  repo: Repository,
  indexedPacks: ReadonlyMap<Id, IndexedPack>,
  onProgress?: (message: string) => void,
): Promise<UsedBlobs> {
  let snapshots: SnapshotRecord[];
  try {
    const listing = await repo.readSnapshots();
    if (listing.unreadable.length > 0) {
      // Its trees are unknown, so any pack might hold data it needs: nothing can be judged unused.
      throw new PruneRefusedError(
        listing.unreadable.map((bad) => `snapshot ${shortId(bad.id)} cannot be read (${bad.error.message})`),
        { remedy: `Remove ${listing.unreadable.length === 1 ? 'it' : 'them'} first with \`ferry forget ${listing.unreadable.map((bad) => bad.id).join(' ')}\` (or \`ferry repair snapshots --forget\`), then prune again` },
      );
    }
    snapshots = listing.snapshots;
  } catch (err) {
    if (err instanceof PruneRefusedError) throw err;
    throw new PruneRefusedError([(err as Error).message], { cause: err });
  }
  const index = new MasterIndex();
  for (const pack of indexedPacks.values()) index.addPack(pack.id, pack.blobs);
  const reader = new BlobReader(repo.storage, index, repo.key.encryptionKey);

  const used = new Set<Id>();
  const problems: string[] = [];
  /** Tree → the first snapshot that reached it, named in problems. Doubles as the visited set. */
  const reachedBy = new Map<Id, Id>();
  let frontier: Id[] = [];
  for (const { id, snapshot } of snapshots) {
    if (reachedBy.has(snapshot.tree)) continue;
    reachedBy.set(snapshot.tree, id);
    frontier.push(snapshot.tree);
  }
  while (frontier.length > 0) {
    const next: Id[] = [];
    await forEachLimit(frontier, TREE_LOADS, async (tree) => {
      const snapshot = shortId(reachedBy.get(tree)!);
      const nodes = await readTree(reader, index, tree, (problem) => problems.push(`snapshot ${snapshot}: ${problem}`));
      if (!nodes) return;
      used.add(tree);
      for (const node of nodes) {
        for (const id of node.content ?? []) {
          if (index.find('data', id)) used.add(id);
          else problems.push(`snapshot ${snapshot}: data blob ${shortId(id)} of ${displayPath(node.name)} is not in the index`);
        }
        if (node.subtree && !reachedBy.has(node.subtree)) {
          reachedBy.set(node.subtree, reachedBy.get(tree)!);
          next.push(node.subtree);
        }
      }
    });
    onProgress?.(`read ${reachedBy.size - next.length} trees`);
    frontier = next;
  }
  if (problems.length > 0) throw new PruneRefusedError(problems.sort());
  return { blobs: used, snapshots: snapshots.length, trees: reachedBy.size };
}

/** The tree's nodes, or undefined after reporting why it cannot be had. */
async function readTree(reader: BlobReader, index: MasterIndex, tree: Id, report: (problem: string) => void): Promise<TreeNode[] | undefined> {
  if (!index.find('tree', tree)) {
    report(`tree ${shortId(tree)} is not in the index`);
    return undefined;
  }
  try {
    return decodeTree(await reader.load('tree', tree));
  } catch (err) {
    report(`tree ${shortId(tree)} cannot be read (${(err as Error).message})`);
    return undefined;
  }
}
