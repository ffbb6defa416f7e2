// `ferry prune` end to end: it frees what a forgotten snapshot used, repacks, removes packs an interrupted
// backup left, and survives being SIGKILLed at every step: afterwards `check --read-data` passes, a second
// prune finishes the job, and every remaining snapshot restores identical to its source.
import assert from 'node:assert/strict';
import { copyFile, cp, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SeededRandom } from '../fixtures/seeded-random.js';
import { compareTrees } from '../fixtures/tree-compare.js';
import { ferry, ferryOk, lastJson, makeTempDir, type TempDir } from './harness.js';

const MiB = 1024 * 1024;
const isRoot = process.getuid?.() === 0;
const ignore = isRoot ? {} : { ownership: true };
/** The harness reports a signal death as -1; a shell would say 137. */
const KILLED = [-1, 137];

interface PruneSummary {
  message_type: string;
  dry_run: boolean;
  packs_deleted: number;
  packs_repacked: number;
  packs_kept: number;
  bytes_freed: number;
  blobs_removed: number;
  index_files_rewritten: number;
}

/** Every file under `dir` with its size, to prove a command changed nothing. */
async function filesOf(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isFile()) out.push(`${path} ${(await stat(path)).size}`);
  }
  return out.sort();
}

/** Removes the locks a killed command left (there is no `ferry unlock` yet). */
async function removeLocks(repo: string): Promise<void> {
  await rm(join(repo, 'locks'), { recursive: true, force: true });
  await mkdir(join(repo, 'locks'));
}

describe('ferry prune', () => {
  let tmp: TempDir;
  let template: string;
  /** The snapshots that remain after the first is forgotten, with their sources. */
  const remaining: { id: string; source: string }[] = [];
  let copies = 0;
  let unindexedSource: string;

  /** A fresh copy of the prepared repository, so each test prunes the same state. */
  const freshRepo = async (): Promise<string> => {
    const repo = join(tmp.path, `repo-${++copies}`);
    await cp(template, repo, { recursive: true });
    return repo;
  };
  const prune = async (repo: string, ...args: string[]): Promise<PruneSummary> => lastJson<PruneSummary>((await ferryOk(['prune', '-r', repo, '--json', ...args])).stdout);

  const assertHealthy = async (repo: string): Promise<void> => {
    const check = await ferryOk(['check', '-r', repo, '--read-data']);
    assert.doesNotMatch(check.stdout, /warning/, 'no unindexed pack is left');
    for (const [i, { id, source }] of remaining.entries()) {
      const target = join(tmp.path, `restore-${copies}-${i}`);
      await ferryOk(['restore', '-r', repo, id, '--target', target]);
      assert.deepEqual(await compareTrees(source, join(target, source), { ignore }), []);
      await rm(target, { recursive: true });
    }
  };

  before(async () => {
    tmp = await makeTempDir('ferry-prune-');
    template = join(tmp.path, 'template');
    const random = new SeededRandom(7);
    const [first, second, third, killed] = ['first', 'second', 'third', 'killed'].map((name) => join(tmp.path, name)) as [string, string, string, string];
    for (const dir of [first, second, join(third, 'sub'), killed]) await mkdir(dir, { recursive: true });
    // first: 3 MiB in one data pack, of which only shared.bin (1 MiB) stays in use: repacked. (A backup
    // encodes its first 4 MiB on the main thread into one pack; beyond, worker threads share the blobs
    // out over their own packs, and how much of each pack stays in use would depend on their timing.)
    await writeFile(join(first, 'only-here.bin'), random.bytes(2 * MiB));
    await writeFile(join(first, 'shared.bin'), random.bytes(MiB));
    await copyFile(join(first, 'shared.bin'), join(second, 'shared.bin'));
    await writeFile(join(second, 'notes.txt'), random.text(20_000));
    await copyFile(join(first, 'shared.bin'), join(third, 'sub', 'shared.bin'));
    await writeFile(join(third, 'own.bin'), random.bytes(MiB));
    await writeFile(join(killed, 'never.bin'), random.bytes(2 * MiB));
    unindexedSource = killed;

    await ferryOk(['init', '-r', template]);
    const backup = async (source: string): Promise<string> => lastJson<{ snapshot_id: string }>((await ferryOk(['backup', '-r', template, source, '--json'])).stdout).snapshot_id;
    const forgotten = await backup(first);
    remaining.push({ id: await backup(second), source: second }, { id: await backup(third), source: third });
    // A backup killed after saving a pack, before its index file: an unindexed pack and a stale lock.
    const interrupted = await ferry(['backup', '-r', template, killed], { env: { FERRY_FAILPOINT: 'pack-saved' } });
    assert.ok(KILLED.includes(interrupted.code), interrupted.stderr);
    await removeLocks(template);
    await rm(join(template, 'snapshots', forgotten));
    const check = await ferryOk(['check', '-r', template]);
    assert.match(check.stdout, /warning: pack [0-9a-f]{8} is not in the index/);
  });
  after(() => tmp.cleanup());

  it('--dry-run reports what prune would do and changes nothing', async () => {
    const repo = await freshRepo();
    const before = await filesOf(repo);
    const dry = await prune(repo, '--dry-run');
    assert.equal(dry.message_type, 'summary');
    assert.equal(dry.dry_run, true);
    assert.ok(dry.packs_repacked >= 1, `${dry.packs_repacked} packs to repack`);
    assert.ok(dry.packs_deleted >= 2, `${dry.packs_deleted} packs`);
    assert.deepEqual(await filesOf(repo), before);
    const text = await ferryOk(['prune', '-r', repo, '--dry-run']);
    assert.match(text.stdout, /would be deleted, [1-9]\d* would be repacked/);
    assert.match(text.stdout, /dry run: nothing was changed/);
  });

  it('frees the forgotten data; check passes, every snapshot restores, and a second prune does nothing', async () => {
    const repo = await freshRepo();
    const dry = await prune(repo, '--dry-run');
    const done = await prune(repo);
    // The killed backup may or may not have left a temporary pack file (a dry run does not sweep them).
    assert.deepEqual({ ...done, bytes_freed: 0, dry_run: true, interrupted_saves_removed: 0 }, { ...dry, bytes_freed: 0 });
    // only-here.bin and the interrupted backup's data are gone; shared.bin was copied, not kept with them.
    assert.ok(done.bytes_freed > 2 * MiB, `${done.bytes_freed} bytes freed`);
    await assertHealthy(repo);
    const again = await ferryOk(['prune', '-r', repo]);
    assert.match(again.stdout, /Packs: +0 deleted, 0 repacked, \d+ kept/);
    assert.match(again.stdout, /nothing to prune/);
  });

  for (const failpoint of ['prune-packs-written', 'prune-index-written', 'prune-old-index-removed', 'prune-pack-removed']) {
    it(`killed at ${failpoint}: check passes, prune again finishes, every snapshot restores`, async () => {
      const repo = await freshRepo();
      const killed = await ferry(['prune', '-r', repo], { env: { FERRY_FAILPOINT: failpoint } });
      assert.ok(KILLED.includes(killed.code), `exit ${killed.code}: ${killed.stderr}`);
      assert.match(killed.stderr, new RegExp(`failpoint ${failpoint} reached`));
      await removeLocks(repo);
      await ferryOk(['check', '-r', repo, '--read-data']);
      await prune(repo);
      const again = await prune(repo);
      assert.deepEqual([again.packs_deleted, again.packs_repacked, again.index_files_rewritten], [0, 0, 0]);
      await assertHealthy(repo);
    });
  }

  it('refuses a repository with a missing pack: exit 1, one line saying what to do, nothing deleted', async () => {
    const repo = await freshRepo();
    const packs = (await filesOf(join(repo, 'data'))).map((line) => line.split(' ')[0]!);
    // The largest pack is the first backup's data pack, which the index names.
    const sizes = await Promise.all(packs.map(async (path) => ({ path, size: (await stat(path)).size })));
    await rm(sizes.sort((a, b) => b.size - a.size)[0]!.path);
    const before = await filesOf(repo);
    const refused = await ferry(['prune', '-r', repo]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /^ferry: prune refused, nothing was deleted: pack [0-9a-f]{8} is missing.*`ferry check`.*`ferry repair index`/);
    assert.equal(refused.stderr.trim().split('\n').length, 1);
    assert.deepEqual(await filesOf(repo), before);
  });

  it("another command's lock makes prune exit 11 without touching anything", async () => {
    const repo = await freshRepo();
    // Its data is in no index, so this backup saves a pack and is killed there, leaving its lock. The lock
    // names another host, so nobody can tell that its process is gone: it counts as held.
    const interrupted = await ferry(['backup', '-r', repo, unindexedSource], { env: { FERRY_FAILPOINT: 'pack-saved', FERRY_HOSTNAME: 'elsewhere' } });
    assert.ok(KILLED.includes(interrupted.code), interrupted.stderr);
    const before = await filesOf(repo);
    const refused = await ferry(['prune', '-r', repo]);
    assert.equal(refused.code, 11, refused.stderr);
    assert.match(refused.stderr, /locked/);
    assert.deepEqual(await filesOf(repo), before);
  });
});
