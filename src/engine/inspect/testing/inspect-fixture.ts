import type { Id } from '../../../core/ids.js';
import { MemoryStorage } from '../../../storage/memory-storage.js';
import { INSECURE_TEST_KDF } from '../../crypto/key-slot.js';
import { Repository } from '../../repository/repository.js';
import type { RepositoryWriter } from '../../repository/repository-writer.js';
import { encodeTree, type TreeNode } from '../../snapshot/tree-format.js';

/** Entries of a test tree: a string is a file's content, an object a folder, `{ link }` a symlink. */
export type TreeSpec = { readonly [name: string]: string | TreeSpec | { readonly link: string } };

/** Node fields a test may set; the rest take fixed values so equal specs give equal trees. */
export type NodeOverrides = Partial<Omit<TreeNode, 'name' | 'type' | 'content' | 'subtree' | 'linkTarget'>>;

/** A repository in memory with a cheap key, for tests of what reads trees. */
export async function memoryRepository(): Promise<Repository> {
  const context = { clock: { now: () => Date.UTC(2026, 0, 1) }, hostname: 'h', username: 'u' };
  return Repository.init(new MemoryStorage(), 'inspect test', context, { kdf: INSECURE_TEST_KDF });
}

/**
 * Saves the tree `spec` (content blobs: one per file; `meta` adds fields by path, e.g. `/a/f`) and returns
 * its id. Call `writer.flush()` before reading.
 */
export async function saveTree(writer: RepositoryWriter, spec: TreeSpec, meta: Record<string, NodeOverrides> = {}, dir = ''): Promise<Id> {
  const nodes: TreeNode[] = [];
  for (const [name, entry] of Object.entries(spec)) {
    const path = `${dir}/${name}`;
    const base = { name: Buffer.from(name), mode: 0o644, uid: 0, gid: 0, mtimeNs: 1n, ctimeNs: 1n, inode: 0n, device: 0n, links: 1, size: 0 };
    if (typeof entry === 'string') {
      const content = entry === '' ? [] : [(await writer.save('data', Buffer.from(entry))).id];
      // Other content, other mtime (as when a file is written), unless `meta` says otherwise.
      nodes.push({ ...base, type: 'file', size: entry.length, mtimeNs: contentTime(entry), content, ...meta[path] });
    } else if ('link' in entry && typeof entry.link === 'string') {
      nodes.push({ ...base, type: 'symlink', size: entry.link.length, linkTarget: Buffer.from(entry.link), ...meta[path] });
    } else {
      nodes.push({ ...base, type: 'dir', mode: 0o755, subtree: await saveTree(writer, entry, meta, path), ...meta[path] });
    }
  }
  return (await writer.save('tree', encodeTree(nodes))).id;
}

function contentTime(content: string): bigint {
  let time = 0n;
  for (const char of content) time = time * 31n + BigInt(char.codePointAt(0)!);
  return time;
}
