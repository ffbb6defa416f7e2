// Small repositories with hand-built snapshots for the prune tests: fixed 4 KiB chunks, 64 KiB packs,
// deterministic incompressible content, and helpers to read a snapshot back and list the storage.
import { createHash } from 'node:crypto';
import type { Failpoints } from '../../../core/failpoints.js';
import type { Id } from '../../../core/ids.js';
import { objectKey } from '../../../storage/layout.js';
import { MemoryStorage } from '../../../storage/memory-storage.js';
import type { Storage } from '../../../storage/storage.js';
import { FaultyStorage } from '../../../storage/testing/faulty-storage.js';
import { INSECURE_TEST_KDF } from '../../crypto/key-slot.js';
import { Repository, type RepositoryContext } from '../../repository/repository.js';
import { decodeTree, encodeTree, type TreeNode } from '../../snapshot/tree-format.js';

export const PASSWORD = 'prune test password';
export const CHUNK = 4096;
export const PACK_SIZE = 64 * 1024;
const T0 = Date.UTC(2026, 0, 1);

/** Files of a snapshot by relative path (`docs/a.bin`); directories are implied. */
export type FileSet = Record<string, Buffer>;

export function testContext(failpoints?: Failpoints): RepositoryContext {
  return { clock: { now: () => T0 }, hostname: 'prune-host', username: 'tester', ...(failpoints ? { failpoints } : {}) };
}

/** `length` bytes that do not compress, the same for the same seed. */
export function seeded(seed: string, length: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; parts.length * 32 < length; i++) parts.push(createHash('sha256').update(`${seed}:${i}`).digest());
  return Buffer.concat(parts).subarray(0, length);
}

/** A new repository on memory storage behind a FaultyStorage (with no faults it passes everything through). */
export async function newStorage(): Promise<FaultyStorage> {
  const storage = new FaultyStorage(new MemoryStorage());
  await Repository.init(storage, PASSWORD, testContext(), {
    kdf: INSECURE_TEST_KDF,
    packSize: PACK_SIZE,
    chunker: { minSize: 1024, avgSize: 4096, maxSize: 16384 },
  });
  return storage;
}

/** Opens the repository afresh without loading its index (prune does not use `repo.index`). */
export function openRepo(storage: Storage, failpoints?: Failpoints): Promise<Repository> {
  return Repository.open(storage, PASSWORD, testContext(failpoints));
}

/** Opens the repository afresh, with its index loaded, as a new process would. */
export async function reopen(storage: Storage, failpoints?: Failpoints): Promise<Repository> {
  const repo = await openRepo(storage, failpoints);
  await repo.loadIndex();
  return repo;
}

/**
 * Stores `files` as a snapshot taken at minute `minute`: content cut in {@link CHUNK}-byte chunks,
 * written in path order, one index file per snapshot. Returns the snapshot id.
 */
export async function backUp(storage: Storage, files: FileSet, minute: number): Promise<Id> {
  const repo = await reopen(storage);
  const writer = repo.createWriter();
  const root: Dir = new Map();
  for (const path of Object.keys(files).sort()) {
    const content = files[path]!;
    const ids: Id[] = [];
    for (let at = 0; at < content.length; at += CHUNK) ids.push((await writer.save('data', content.subarray(at, at + CHUNK))).id);
    const parts = path.split('/');
    let dir = root;
    for (const part of parts.slice(0, -1)) {
      if (!dir.has(part)) dir.set(part, new Map());
      dir = dir.get(part) as Dir;
    }
    dir.set(parts[parts.length - 1]!, { ids, size: content.length });
  }
  const tree = await saveTree(writer, root);
  await writer.flush();
  const time = new Date(T0 + minute * 60_000).toISOString();
  return repo.saveSnapshot({ version: 1, time, tree, paths: ['/data'], hostname: 'prune-host', username: 'tester', uid: 0, gid: 0, tags: [], excludes: [], skipped: [] });
}

type Dir = Map<string, Dir | { ids: Id[]; size: number }>;

async function saveTree(writer: ReturnType<Repository['createWriter']>, dir: Dir): Promise<Id> {
  const nodes: TreeNode[] = [];
  for (const [name, entry] of dir) {
    const common = { name: Buffer.from(name), mode: 0o644, uid: 0, gid: 0, mtimeNs: 1n, ctimeNs: 1n, inode: 1n, device: 1n, links: 1 };
    if (entry instanceof Map) nodes.push({ ...common, type: 'dir', size: 0, subtree: await saveTree(writer, entry) });
    else nodes.push({ ...common, type: 'file', size: entry.size, content: entry.ids });
  }
  return (await writer.save('tree', encodeTree(nodes))).id;
}

/** Every file of the snapshot, read blob by blob through a freshly opened repository. */
export async function readSnapshot(storage: Storage, snapshotId: Id): Promise<FileSet> {
  const repo = await reopen(storage);
  const files: FileSet = {};
  const walk = async (tree: Id, prefix: string): Promise<void> => {
    for (const node of decodeTree(await repo.loadBlob('tree', tree))) {
      const path = prefix + node.name.toString();
      if (node.subtree) await walk(node.subtree, `${path}/`);
      else files[path] = Buffer.concat(await Promise.all((node.content ?? []).map((id) => repo.loadBlob('data', id))));
    }
  };
  await walk((await repo.loadSnapshot(snapshotId)).tree, '');
  return files;
}

/** `key size` of every object, sorted: two equal listings mean nothing was written or deleted. */
export async function listing(storage: Storage): Promise<string[]> {
  const out: string[] = [];
  await storage.list('', (info) => {
    out.push(`${info.key} ${info.size}`);
  });
  return out.sort();
}

/** Keys of the objects under `prefix` (`data/`, `index/`). */
export async function keysUnder(storage: Storage, prefix: string): Promise<string[]> {
  const out: string[] = [];
  await storage.list(prefix, (info) => {
    out.push(info.key);
  });
  return out.sort();
}

export async function forgetSnapshot(storage: Storage, id: Id): Promise<void> {
  await storage.remove(objectKey('snapshot', id));
}

/**
 * The standard scenario. Snapshot A: `docs/a.bin` (16 chunks: one full pack), `docs/shared.bin`
 * (4 chunks) and `docs/unique.bin` (12 chunks) sharing a second pack, `x/y/z.txt` (a third pack), and
 * its trees. Snapshot B: `docs/shared.bin` and `b.bin` (8 chunks, its own pack), and its trees.
 * After forgetting A: two packs and A's tree pack are unused, the shared pack is 3/4 unused.
 */
export const FILES_A: FileSet = {
  'docs/a.bin': seeded('a', 16 * CHUNK),
  'docs/shared.bin': seeded('shared', 4 * CHUNK),
  'docs/unique.bin': seeded('unique', 12 * CHUNK),
  'x/y/z.txt': Buffer.from('only in A\n'),
};
export const FILES_B: FileSet = { 'docs/shared.bin': FILES_A['docs/shared.bin']!, 'b.bin': seeded('b', 8 * CHUNK) };

/** Builds the scenario and forgets A; returns the storage and B's id. */
export async function scenario(): Promise<{ storage: FaultyStorage; a: Id; b: Id }> {
  const storage = await newStorage();
  const a = await backUp(storage, FILES_A, 1);
  const b = await backUp(storage, FILES_B, 2);
  await forgetSnapshot(storage, a);
  return { storage, a, b };
}
