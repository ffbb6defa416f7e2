import type { TreeNode } from '../engine/snapshot/tree-format.js';

const TYPE_CHARS: Record<TreeNode['type'], string> = { file: '-', dir: 'd', symlink: 'l', fifo: 'p', socket: 's', chardev: 'c', blockdev: 'b' };
const ACL_NAMES = new Set(['system.posix_acl_access', 'system.posix_acl_default']);

/** `drwxr-sr-x`-style permissions of a node, with setuid, setgid and sticky shown as `ls -l` does. */
export function modeString(node: Pick<TreeNode, 'type' | 'mode'>): string {
  const m = node.mode;
  const triple = (shift: number, special: number, set: string, unset: string): string => {
    const bits = (m >> shift) & 7;
    const x = bits & 1 ? set : unset;
    return `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${m & special ? x : bits & 1 ? 'x' : '-'}`;
  };
  return TYPE_CHARS[node.type] + triple(6, 0o4000, 's', 'S') + triple(3, 0o2000, 's', 'S') + triple(0, 0o1000, 't', 'T');
}

/**
 * The character after the permissions in `ls -l`: `+` when the node has a POSIX ACL (access or default),
 * as GNU ls shows it; `@` when it has other extended attributes only, as macOS ls shows them; a space
 * when it has none, so columns stay aligned.
 */
export function xattrMarker(node: Pick<TreeNode, 'xattrs'>): string {
  const xattrs = node.xattrs ?? [];
  if (xattrs.some((x) => ACL_NAMES.has(x.name.toString('latin1')))) return '+';
  return xattrs.length > 0 ? '@' : ' ';
}

function pad(value: number | string, width: number): string {
  return String(value).padStart(width);
}

/** `YYYY-MM-DD hh:mm:ss` in local time, as restic's `ls -l` prints the mtime. */
function localTime(mtimeNs: bigint): string {
  const d = new Date(Number(mtimeNs / 1_000_000n));
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** One `ls -l` line (without the newline): mode and attribute marker, uid, gid, size, mtime, path. */
export function longListing(node: TreeNode, path: string, linkTarget: string | undefined): string {
  return `${modeString(node)}${xattrMarker(node)} ${pad(node.uid, 5)} ${pad(node.gid, 5)} ${pad(node.size, 10)} ${localTime(node.mtimeNs)} ${path}${linkTarget !== undefined ? ` -> ${linkTarget}` : ''}`;
}
