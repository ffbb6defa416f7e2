import { IntegrityError } from '../../core/errors.js';
import { isId, type Id } from '../../core/ids.js';

export type NodeType = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'chardev' | 'blockdev';
const NODE_TYPES: ReadonlySet<string> = new Set(['file', 'dir', 'symlink', 'fifo', 'socket', 'chardev', 'blockdev']);

/**
 * One extended attribute: its full name with the namespace (`user.`, `trusted.`, `security.`, `system.`)
 * and its value, both raw bytes. POSIX ACLs are the `system.posix_acl_access` and
 * `system.posix_acl_default` attributes in the kernel's binary form.
 */
export interface Xattr {
  readonly name: Buffer;
  readonly value: Buffer;
}

/** Longest attribute name and value Linux allows (XATTR_NAME_MAX, XATTR_SIZE_MAX). */
const XATTR_NAME_MAX = 255;
const XATTR_SIZE_MAX = 65536;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** One directory entry as recorded in a tree. Names and link targets are raw bytes: any byte but `/` and NUL. */
export interface TreeNode {
  readonly name: Buffer;
  readonly type: NodeType;
  /** Permission bits including setuid, setgid and sticky (mode & 0o7777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly inode: bigint;
  readonly device: bigint;
  /** Number of hard links the source had; > 1 lets restore recreate the links. */
  readonly links: number;
  readonly size: number;
  /** file: the data blobs that make up the content, in order. */
  readonly content?: readonly Id[];
  /** dir: the tree blob of the directory. */
  readonly subtree?: Id;
  /** symlink: the target, stored as is and never followed. */
  readonly linkTarget?: Buffer;
  /** chardev, blockdev: the device number. */
  readonly rdev?: bigint;
  /** Extended attributes (and POSIX ACLs), sorted by name bytes; absent when there are none. */
  readonly xattrs?: readonly Xattr[];
}

interface XattrJson {
  name?: string;
  name_raw?: string;
  value: string;
}

interface NodeJson {
  name?: string;
  name_raw?: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime_ns: string;
  ctime_ns: string;
  inode: string;
  device: string;
  links: number;
  size: number;
  content?: string[];
  subtree?: string;
  link_target?: string;
  link_target_raw?: string;
  rdev?: string;
  xattrs?: XattrJson[];
}

/** True when the name can be a single path component: not empty, `.` or `..`, without `/` or NUL. */
export function isSafeName(name: Uint8Array): boolean {
  if (name.length === 0 || name.length > 255 || name.includes(0x2f) || name.includes(0)) return false;
  return !(name[0] === 0x2e && (name.length === 1 || (name.length === 2 && name[1] === 0x2e)));
}

/** Encodes a directory; nodes are sorted by name bytes so equal directories give equal bytes (and ids). */
export function encodeTree(nodes: readonly TreeNode[]): Buffer {
  const sorted = [...nodes].sort((a, b) => Buffer.compare(a.name, b.name));
  return Buffer.from(JSON.stringify({ nodes: sorted.map(nodeToJson) }));
}

/**
 * Decodes a tree, refusing anything a restore could be tricked by: unsafe or duplicate names,
 * unknown types, missing fields. Throws `IntegrityError`.
 */
export function decodeTree(bytes: Uint8Array): TreeNode[] {
  let parsed: { nodes?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as { nodes?: unknown };
  } catch (cause) {
    throw new IntegrityError('tree is not valid JSON', { cause });
  }
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray(parsed.nodes)) throw new IntegrityError('tree has no node list');
  const nodes = (parsed.nodes as NodeJson[]).map(nodeFromJson);
  for (let i = 1; i < nodes.length; i++) {
    if (Buffer.compare(nodes[i - 1]!.name, nodes[i]!.name) >= 0) throw new IntegrityError('tree names are duplicated or out of order');
  }
  return nodes;
}

/** Sorts attributes by name bytes, as trees store them. */
export function sortXattrs(xattrs: readonly Xattr[]): Xattr[] {
  return [...xattrs].sort((a, b) => Buffer.compare(a.name, b.name));
}

/** `value` as UTF-8 text when it is valid UTF-8 (it round-trips), else undefined (stored as base64). */
function utf8Text(value: Buffer): string | undefined {
  const text = value.toString('utf8');
  return Buffer.from(text, 'utf8').equals(value) ? text : undefined;
}

/**
 * A node's JSON object. Its keys are written in this order (JSON.stringify keeps insertion order, and the
 * tree's id is the hash of its bytes). Each object is built from one of two literals and then gets its
 * optional fields in a fixed order, so all nodes share a few hidden classes: built by spreading an object
 * with a computed key, each node made V8 create ~11 new maps and descriptor arrays in the old generation,
 * ~2 KB of garbage per node that drove a full backup's full collections.
 */
function nodeToJson(node: TreeNode): NodeJson {
  const name = utf8Text(node.name);
  const json: NodeJson =
    name !== undefined
      ? {
          name,
          type: node.type,
          mode: node.mode,
          uid: node.uid,
          gid: node.gid,
          mtime_ns: node.mtimeNs.toString(),
          ctime_ns: node.ctimeNs.toString(),
          inode: node.inode.toString(),
          device: node.device.toString(),
          links: node.links,
          size: node.size,
        }
      : {
          name_raw: node.name.toString('base64'),
          type: node.type,
          mode: node.mode,
          uid: node.uid,
          gid: node.gid,
          mtime_ns: node.mtimeNs.toString(),
          ctime_ns: node.ctimeNs.toString(),
          inode: node.inode.toString(),
          device: node.device.toString(),
          links: node.links,
          size: node.size,
        };
  if (node.content) json.content = node.content.slice();
  if (node.subtree) json.subtree = node.subtree;
  if (node.linkTarget) {
    const target = utf8Text(node.linkTarget);
    if (target !== undefined) json.link_target = target;
    else json.link_target_raw = node.linkTarget.toString('base64');
  }
  if (node.rdev !== undefined) json.rdev = node.rdev.toString();
  if (node.xattrs && node.xattrs.length > 0) json.xattrs = sortXattrs(node.xattrs).map(xattrToJson);
  return json;
}

function xattrToJson(xattr: Xattr): XattrJson {
  const name = utf8Text(xattr.name);
  const value = xattr.value.toString('base64');
  return name !== undefined ? { name, value } : { name_raw: xattr.name.toString('base64'), value };
}

function decodeBytes(plain: string | undefined, raw: string | undefined): Buffer | undefined {
  if (typeof plain === 'string') return Buffer.from(plain, 'utf8');
  if (typeof raw === 'string') return Buffer.from(raw, 'base64');
  return undefined;
}

function bigintField(value: unknown, what: string): bigint {
  if (typeof value !== 'string' || !/^-?\d{1,20}$/.test(value)) throw new IntegrityError(`tree node has an invalid ${what}`);
  return BigInt(value);
}

function intField(value: unknown, what: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw new IntegrityError(`tree node has an invalid ${what}`);
  return value as number;
}

/** Decodes and checks a node's attribute list: valid names, base64 values, strictly increasing names. */
function xattrsFromJson(value: unknown): Xattr[] {
  if (!Array.isArray(value)) throw new IntegrityError('tree node has an invalid xattrs list');
  const xattrs = value.map((entry: XattrJson): Xattr => {
    if (typeof entry !== 'object' || entry === null) throw new IntegrityError('tree node has an invalid extended attribute');
    const name = decodeBytes(entry.name, entry.name_raw);
    if (!name || name.length === 0 || name.length > XATTR_NAME_MAX || name.includes(0)) {
      throw new IntegrityError(`tree node has an invalid extended attribute name ${JSON.stringify(entry.name ?? entry.name_raw)}`);
    }
    if (typeof entry.value !== 'string' || !BASE64.test(entry.value) || entry.value.length > (XATTR_SIZE_MAX / 3) * 4 + 4) {
      throw new IntegrityError(`tree node has an invalid value for extended attribute ${JSON.stringify(entry.name ?? entry.name_raw)}`);
    }
    return { name, value: Buffer.from(entry.value, 'base64') };
  });
  for (let i = 1; i < xattrs.length; i++) {
    if (Buffer.compare(xattrs[i - 1]!.name, xattrs[i]!.name) >= 0) throw new IntegrityError('tree node has extended attributes duplicated or out of order');
  }
  if (xattrs.some((x) => x.value.length > XATTR_SIZE_MAX)) throw new IntegrityError('tree node has an extended attribute value over 64 KiB');
  return xattrs;
}

function nodeFromJson(json: NodeJson): TreeNode {
  if (typeof json !== 'object' || json === null) throw new IntegrityError('tree node is not an object');
  const name = decodeBytes(json.name, json.name_raw);
  if (!name || !isSafeName(name)) throw new IntegrityError(`tree holds an unsafe name ${JSON.stringify(json.name ?? json.name_raw)}`);
  if (!NODE_TYPES.has(json.type)) throw new IntegrityError(`tree node has unknown type ${JSON.stringify(json.type)}`);
  const type = json.type as NodeType;
  const content = json.content;
  if (type === 'file' && (!Array.isArray(content) || !content.every((id) => typeof id === 'string' && isId(id)))) {
    throw new IntegrityError('file node has an invalid content list');
  }
  if (type === 'dir' && !(typeof json.subtree === 'string' && isId(json.subtree))) throw new IntegrityError('dir node has no subtree');
  const linkTarget = decodeBytes(json.link_target, json.link_target_raw);
  if (type === 'symlink' && (!linkTarget || linkTarget.length === 0 || linkTarget.includes(0))) {
    throw new IntegrityError('symlink node has an invalid target');
  }
  return {
    name,
    type,
    mode: intField(json.mode, 'mode') & 0o7777,
    uid: intField(json.uid, 'uid'),
    gid: intField(json.gid, 'gid'),
    mtimeNs: bigintField(json.mtime_ns, 'mtime'),
    ctimeNs: bigintField(json.ctime_ns, 'ctime'),
    inode: bigintField(json.inode, 'inode'),
    device: bigintField(json.device, 'device'),
    links: intField(json.links, 'link count'),
    size: intField(json.size, 'size'),
    ...(type === 'file' ? { content: content as Id[] } : {}),
    ...(type === 'dir' ? { subtree: json.subtree as Id } : {}),
    ...(type === 'symlink' ? { linkTarget } : {}),
    ...(json.rdev !== undefined ? { rdev: bigintField(json.rdev, 'rdev') } : {}),
    ...(json.xattrs !== undefined ? { xattrs: xattrsFromJson(json.xattrs) } : {}),
  };
}
