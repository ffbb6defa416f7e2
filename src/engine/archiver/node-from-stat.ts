import { constants } from 'node:fs';
import type { Id } from '../../core/ids.js';
import type { NodeType, TreeNode, Xattr } from '../snapshot/tree-format.js';

/**
 * An lstat result: Node's `BigIntStats`, or the directory scan's `ScannedStat` (os/directory-scan.ts),
 * which keeps the small fields as numbers.
 */
export interface SourceStat {
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isCharacterDevice(): boolean;
  readonly mode: number | bigint;
  readonly uid: number | bigint;
  readonly gid: number | bigint;
  readonly nlink: number | bigint;
  readonly size: number | bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly ino: bigint;
  readonly dev: bigint;
  readonly rdev: bigint;
}

/** The node type of an lstat result. */
export function nodeTypeOf(st: SourceStat): NodeType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'chardev';
  return 'blockdev';
}

export interface NodeContent {
  readonly content?: readonly Id[];
  readonly subtree?: Id;
  readonly linkTarget?: Buffer;
  /** Overrides the stat size: a file that changed while it was read records what was read. */
  readonly size?: number;
  /** Extended attributes, sorted by name; an empty list records none. */
  readonly xattrs?: readonly Xattr[];
}

/** A tree node for `name` from its lstat result and what the archiver found inside it. */
export function nodeFromStat(name: Buffer, st: SourceStat, inner: NodeContent): TreeNode {
  const type = nodeTypeOf(st);
  const isDevice = type === 'chardev' || type === 'blockdev';
  return {
    name,
    type,
    mode: Number(st.mode) & 0o7777,
    uid: Number(st.uid),
    gid: Number(st.gid),
    mtimeNs: st.mtimeNs,
    ctimeNs: st.ctimeNs,
    inode: st.ino,
    device: st.dev,
    links: Number(st.nlink),
    size: inner.size ?? (type === 'file' || type === 'symlink' ? Number(st.size) : 0),
    ...(inner.content ? { content: inner.content } : {}),
    ...(inner.subtree ? { subtree: inner.subtree } : {}),
    ...(inner.linkTarget ? { linkTarget: inner.linkTarget } : {}),
    ...(isDevice ? { rdev: st.rdev } : {}),
    ...(inner.xattrs && inner.xattrs.length > 0 ? { xattrs: inner.xattrs } : {}),
  };
}

/** True when a file is unchanged since the parent snapshot recorded it (so it need not be read). */
export function unchangedSince(previous: TreeNode | undefined, st: SourceStat): boolean {
  return (
    previous !== undefined &&
    previous.type === 'file' &&
    st.isFile() &&
    previous.size === Number(st.size) &&
    previous.mtimeNs === st.mtimeNs &&
    previous.ctimeNs === st.ctimeNs &&
    previous.inode === st.ino
  );
}

/** open(2) flags for reading a source file: never through a symlink, and without touching its atime when allowed. */
export const SOURCE_OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW;
export const SOURCE_OPEN_FLAGS_NOATIME = SOURCE_OPEN_FLAGS | (constants.O_NOATIME ?? 0);
