import { UserError } from '../../core/errors.js';
import type { Id } from '../../core/ids.js';
import type { BlobLocation } from '../index/master-index.js';
import type { BlobType } from '../pack/pack-format.js';
import { decodeTree, type TreeNode } from '../snapshot/tree-format.js';

/**
 * What `diff` and `stats` read of a repository: trees, and where the index says each blob is stored
 * (its length in its pack is what the blob costs). A {@link Repository} is one.
 */
export interface TreeSource {
  loadBlob(type: 'tree', id: Id): Promise<Buffer>;
  readonly index: { find(type: BlobType, id: Id): BlobLocation | undefined };
}

/** A tree that could not be read (missing from the index, damaged pack, malformed): where it sits and why. */
export interface UnreadableTree {
  /** The folder's path in the snapshot, as raw bytes (`/` for the root). */
  readonly path: Buffer;
  readonly error: Error;
}

/** Decodes the tree `id`; errors as {@link TreeSource.loadBlob} and `decodeTree` throw them. */
export async function loadTree(source: TreeSource, id: Id): Promise<TreeNode[]> {
  return decodeTree(await source.loadBlob('tree', id));
}

/**
 * The tree of the folder at `subpath` below `root` (`/a/b`, `a/b` and `/` all work; components are
 * UTF-8 names). `UserError` when a component is missing or not a folder.
 */
export async function findSubtree(source: TreeSource, root: Id, subpath: string): Promise<Id> {
  let tree = root;
  let walked = '';
  for (const part of subpath.split('/').filter((p) => p !== '' && p !== '.')) {
    const name = Buffer.from(part, 'utf8');
    const node = (await loadTree(source, tree)).find((n) => n.name.equals(name));
    walked += `/${part}`;
    if (!node) throw new UserError(`${walked} is not in the snapshot: list its folders with \`ferry ls\``);
    if (node.type !== 'dir' || node.subtree === undefined) throw new UserError(`${walked} is a ${node.type} in the snapshot, not a folder`);
    tree = node.subtree;
  }
  return tree;
}
