import type { TreeNode } from './tree-format.js';

/**
 * Every recorded field of two nodes but their names and contents (restic's `Node.Equals` without
 * `Content`): absent and empty attribute lists are the same. A folder's subtree counts.
 */
export function sameMetadata(a: TreeNode, b: TreeNode): boolean {
  return (
    a.type === b.type &&
    a.mode === b.mode &&
    a.uid === b.uid &&
    a.gid === b.gid &&
    a.mtimeNs === b.mtimeNs &&
    a.ctimeNs === b.ctimeNs &&
    a.inode === b.inode &&
    a.device === b.device &&
    a.links === b.links &&
    a.size === b.size &&
    a.subtree === b.subtree &&
    a.rdev === b.rdev &&
    (a.linkTarget === undefined || b.linkTarget === undefined ? a.linkTarget === b.linkTarget : a.linkTarget.equals(b.linkTarget)) &&
    sameList(a.xattrs ?? [], b.xattrs ?? [], (x, y) => x.name.equals(y.name) && x.value.equals(y.value))
  );
}

/** True when two nodes record the same entry in every field a tree stores, so a tree holding one holds the other. */
export function sameNode(a: TreeNode, b: TreeNode): boolean {
  return a.name.equals(b.name) && sameList(a.content, b.content, (x, y) => x === y) && sameMetadata(a, b);
}

function sameList<T>(a: readonly T[] | undefined, b: readonly T[] | undefined, same: (x: T, y: T) => boolean): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!same(a[i]!, b[i]!)) return false;
  return true;
}
