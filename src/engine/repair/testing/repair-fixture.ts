import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Id } from '../../../core/ids.js';
import { objectKey } from '../../../storage/layout.js';
import { MemoryStorage } from '../../../storage/memory-storage.js';
import { backup } from '../../archiver/backup.js';
import { INSECURE_TEST_KDF } from '../../crypto/key-slot.js';
import { Repository, type RepositoryContext } from '../../repository/repository.js';
import { Restorer, type RestoreProblem } from '../../restorer/restorer.js';
import { decodeTree } from '../../snapshot/tree-format.js';

export const context: RepositoryContext = { clock: { now: () => Date.UTC(2026, 10, 25) }, hostname: 'test-host', username: 'tester' };
export const password = 'repair test password';
/** Small packs and chunks, so a few hundred KiB of files spread over many packs. */
export const small = { kdf: INSECURE_TEST_KDF, packSize: 64 * 1024, chunker: { minSize: 1024, avgSize: 4096, maxSize: 16384 } };

export async function newRepository(): Promise<{ storage: MemoryStorage; repo: Repository }> {
  const storage = new MemoryStorage();
  return { storage, repo: await Repository.init(storage, password, context, small) };
}

/** The repository opened afresh with its index loaded, as a new command would see it. */
export async function reopen(storage: MemoryStorage): Promise<Repository> {
  const repo = await Repository.open(storage, password, context);
  await repo.loadIndex();
  return repo;
}

/** Deterministic bytes (xorshift), so failures replay. */
export function seededBytes(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed * 2654435761 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export interface TempDir {
  readonly path: string;
  cleanup(): Promise<void>;
}

export async function tempDir(): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), 'ferry-repair-'));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** Writes `files` (relative path → content) below `root`. */
export async function writeFiles(root: string, files: Readonly<Record<string, Buffer>>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

/** Every regular file below `root`, relative path → content. */
export async function readFiles(root: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) out.set(relative(root, join(entry.parentPath, entry.name)), await readFile(join(entry.parentPath, entry.name)));
  }
  return out;
}

/** Backs up `dir` and returns the snapshot id. */
export async function backupDir(repo: Repository, dir: string, tags: string[] = []): Promise<Id> {
  return (await backup(repo, { paths: [dir], uid: 0, gid: 0, tags })).id;
}

/** Restores the tree into a fresh directory below `parent`; returns it with the problems reported. */
export async function restoreTree(repo: Repository, tree: Id, target: string): Promise<RestoreProblem[]> {
  const problems: RestoreProblem[] = [];
  const progress = { filesDone: 0, bytesDone: 0, currentPath: '' };
  await new Restorer(repo, { privileged: false, progress, onProblem: (p) => problems.push(p), onWarning: () => undefined }).restore(tree, target);
  return problems;
}

/** Every data blob id a file below `tree` names, with the snapshot path of the file. */
export async function filesByBlob(repo: Repository, tree: Id, path = ''): Promise<Map<string, Id[]>> {
  const out = new Map<string, Id[]>();
  for (const node of decodeTree(await repo.loadBlob('tree', tree))) {
    const child = `${path}/${node.name.toString()}`;
    if (node.type === 'file') out.set(child, [...(node.content ?? [])]);
    if (node.subtree) for (const [p, ids] of await filesByBlob(repo, node.subtree, child)) out.set(p, ids);
  }
  return out;
}

export async function removePack(storage: MemoryStorage, packId: Id): Promise<void> {
  await storage.remove(objectKey('pack', packId));
}
