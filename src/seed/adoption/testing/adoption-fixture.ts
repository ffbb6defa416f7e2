import { writeFile } from 'node:fs/promises';
import type { Id } from '../../../core/ids.js';
import { backup, findParent, type BackupResult } from '../../../engine/archiver/backup.js';
import { password, seededBytes, small, tempDir, writeFiles, type TempDir } from '../../../engine/repair/testing/repair-fixture.js';
import { Repository, type RepositoryContext } from '../../../engine/repository/repository.js';
import { CONFIG_KEY, folderOf } from '../../../storage/layout.js';
import { MemoryStorage } from '../../../storage/memory-storage.js';
import type { Storage } from '../../../storage/storage.js';
import { ADOPTED_KINDS, listContentObjects } from '../content-objects.js';

export { password };

let now = Date.UTC(2026, 10, 1);
/** A clock that moves a second per reading, so every snapshot has its own time and the latest is the parent. */
export const context: RepositoryContext = { clock: { now: () => (now += 1000) }, hostname: 'test-host', username: 'tester' };

/** A seed in memory: a staging repository with one backup of `source`, its import, and the vault (a replica without data). */
export interface SeedWorld {
  readonly tmp: TempDir;
  readonly source: string;
  readonly staging: MemoryStorage;
  readonly imported: MemoryStorage;
  readonly vault: MemoryStorage;
  readonly stagingRepo: Repository;
  /** The first (full) backup in staging, which the disks carry. */
  readonly seeded: Id;
}

/** Builds a {@link SeedWorld}: 12 files of 3–80 KiB in small packs, so losing one pack loses some files. */
export async function seedWorld(): Promise<SeedWorld> {
  const tmp = await tempDir();
  const source = `${tmp.path}/src`;
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 12; i++) files[`d${i % 3}/f${i}.bin`] = seededBytes(i + 1, 3000 + i * 7000);
  await writeFiles(source, files);
  const staging = new MemoryStorage('memory:staging');
  const stagingRepo = await Repository.init(staging, password, context, small);
  const seeded = await backupTo(stagingRepo, source);
  const imported = new MemoryStorage('memory:import');
  await copyContent(staging, imported);
  const vault = new MemoryStorage('memory:vault');
  await vault.save(CONFIG_KEY, await staging.load(CONFIG_KEY));
  await staging.list(folderOf('key'), async (info) => vault.save(info.key, await staging.load(info.key)));
  return { tmp, source, staging, imported, vault, stagingRepo, seeded };
}

/** What the datacenter ingest uploads: every content-named object under data/, index/, snapshots/. */
export async function copyContent(from: Storage, to: Storage): Promise<void> {
  for (const kind of ADOPTED_KINDS) for (const key of (await listContentObjects(from, kind)).keys()) await to.save(key, await from.load(key));
}

/** An incremental backup of `source` into `repo` (its index reloaded), with the latest snapshot of the same paths as parent. */
export async function backupTo(repo: Repository, source: string): Promise<Id> {
  return (await incremental(repo, source)).id;
}

export async function incremental(repo: Repository, source: string): Promise<BackupResult> {
  await repo.loadIndex();
  const parent = findParent(await repo.listSnapshots(), context.hostname, [source]);
  return backup(repo, { paths: [source], uid: 0, gid: 0, tags: [], parent });
}

/** Overwrites a source file with new content (a later mtime, so the backup sees the change). */
export async function changeFile(path: string, seed: number): Promise<void> {
  await writeFile(path, seededBytes(seed, 5000));
}

/** An immediate sleep for the polling loop. */
export const noSleep = (): Promise<void> => Promise.resolve();
