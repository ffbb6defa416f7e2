import { isUtf8, lossyText } from '../engine/fs/go-quote.js';
import type { TreeNode, Xattr } from '../engine/snapshot/tree-format.js';

/**
 * The JSON form of tree nodes and of raw names, in restic's shapes, for every command that prints nodes
 * or paths with `--json` (`ls` today; `diff` can reuse {@link nodeJson}).
 *
 * Names and paths travel exactly: bytes that are UTF-8 are a plain string under `key`; otherwise `key`
 * holds a readable form (each byte that is not UTF-8 replaced by U+FFFD, as restic's JSON has it) and
 * `key_raw` the exact bytes in base64, as the repository format stores such names (`name_raw`).
 */
export function bytesFields(key: string, bytes: Uint8Array): Record<string, string> {
  if (isUtf8(bytes)) return { [key]: Buffer.from(bytes).toString('utf8') };
  return { [key]: lossyText(bytes), [`${key}_raw`]: Buffer.from(bytes).toString('base64') };
}

/** Go's `os.FileMode` bits for the node types (restic stores and prints modes this way). */
const GO_TYPE_BITS: Record<TreeNode['type'], number> = {
  file: 0,
  dir: 2 ** 31,
  symlink: 2 ** 27,
  blockdev: 2 ** 26,
  chardev: 2 ** 26 + 2 ** 21,
  fifo: 2 ** 25,
  socket: 2 ** 24,
};
const GO_SETUID = 2 ** 23;
const GO_SETGID = 2 ** 22;
const GO_STICKY = 2 ** 20;
/** Go's `FileMode.String` letters, from bit 31 down. */
const GO_MODE_LETTERS = 'dalTLDpSugct?';

/** The node's mode as Go's `os.FileMode` number, the `mode` restic's `ls --json` prints (a folder 0755 is 2147484141). */
export function goFileMode(node: Pick<TreeNode, 'type' | 'mode'>): number {
  const m = node.mode;
  return GO_TYPE_BITS[node.type] + (m & 0o777) + (m & 0o4000 ? GO_SETUID : 0) + (m & 0o2000 ? GO_SETGID : 0) + (m & 0o1000 ? GO_STICKY : 0);
}

/** Go's `FileMode.String` of a mode number: `drwxr-xr-x`, `Lrwxrwxrwx`, `Dcrw-rw----`, `urwxr-xr-x` (setuid)… */
export function goModeString(mode: number): string {
  let out = '';
  for (let i = 0; i < GO_MODE_LETTERS.length; i++) if (Math.floor(mode / 2 ** (31 - i)) % 2 === 1) out += GO_MODE_LETTERS[i];
  if (out === '') out = '-';
  for (let i = 0; i < 9; i++) out += mode & (1 << (8 - i)) ? 'rwxrwxrwx'[i] : '-';
  return out;
}

/**
 * Nanoseconds since the epoch as Go's RFC 3339 with nanoseconds (trailing zeros of the fraction dropped,
 * no fraction when it is zero), in UTC: `2024-05-01T10:20:30.123456789Z`.
 */
export function rfc3339Nano(ns: bigint): string {
  const seconds = ns / 1_000_000_000n - (ns % 1_000_000_000n < 0n ? 1n : 0n);
  const fraction = ns - seconds * 1_000_000_000n;
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  const digits = fraction.toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${digits ? `.${digits}` : ''}Z`;
}

/**
 * A node's extended attributes as restic names them: `name` (see {@link bytesFields}: with `name_raw`
 * when not UTF-8) and `value` in base64.
 */
export function xattrsJson(xattrs: readonly Xattr[]): Record<string, string>[] {
  return xattrs.map((x) => ({ ...bytesFields('name', x.name), value: x.value.toString('base64') }));
}

/** A JSON field value; bigints are written as exact integers. */
export type JsonField = string | number | bigint | boolean | null | readonly unknown[] | { readonly [key: string]: unknown };

/**
 * One node as restic's `ls --json` prints it, in its field order: name, type, path, uid, gid, size (files
 * only), mode (Go `os.FileMode`), permissions, mtime, ctime (nanoseconds), inode; then what Ferry adds:
 * device_id, links, linktarget (symlinks), extended_attributes. Ferry records no access time, so there is no
 * `atime`. `name`, `path` and `linktarget` get `_raw` siblings when not UTF-8.
 */
export function nodeJson(node: TreeNode, path: Uint8Array): Record<string, JsonField> {
  const mode = goFileMode(node);
  return {
    ...bytesFields('name', node.name),
    type: node.type,
    ...bytesFields('path', path),
    uid: node.uid,
    gid: node.gid,
    ...(node.type === 'file' ? { size: node.size } : {}),
    mode,
    permissions: goModeString(mode),
    mtime: rfc3339Nano(node.mtimeNs),
    ctime: rfc3339Nano(node.ctimeNs),
    inode: node.inode,
    device_id: node.device,
    links: node.links,
    ...(node.linkTarget !== undefined ? bytesFields('linktarget', node.linkTarget) : {}),
    ...(node.xattrs ? { extended_attributes: xattrsJson(node.xattrs) } : {}),
    message_type: 'node',
    struct_type: 'node',
  };
}

/** One line of JSON: like `JSON.stringify` of an object, with top-level bigints written as exact integers. */
export function jsonLine(fields: Readonly<Record<string, unknown>>): string {
  const parts = Object.entries(fields).map(([key, value]) => `${JSON.stringify(key)}:${typeof value === 'bigint' ? value.toString() : JSON.stringify(value)}`);
  return `{${parts.join(',')}}\n`;
}
