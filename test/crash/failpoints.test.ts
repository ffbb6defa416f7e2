// Reliability scenario C2: crash `ferry backup` and `ferry init` at every named failpoint they pass
// (FERRY_FAILPOINT=name[:N] makes the process SIGKILL itself at the N-th hit). For each, the state on disk
// right after the crash must follow the write order of docs/repository-format.md section 14 (packs, then
// index files, then the snapshot; temp file, then rename), and C1's criteria must hold: check passes, the
// next backup needs no manual step, a full read-check passes and the restore equals the source.
//
// Failpoints: engine `pack-saved`, `index-saved`, `snapshot-saved`; FsStorage `fs-written:<folder>`,
// `fs-synced:<folder>`, `fs-renamed:<folder>` for data, index, snapshots, locks (backup) and keys, config
// (init). Lock refresh, prune and repair points are covered by their own tests. FERRY_CRASH_KEEP=1 keeps
// the folder of a failed case (passing cases delete theirs).
//
// Cheap by construction: the repositories use 1 MiB packs (the pack count, not the bytes, is what the
// cases need), each backup case starts from a copy of a prepared repository instead of running init (and,
// for the incremental cases, the first backup) again, and every incremental case crashes the same
// incremental backup: one source tree, backed up once, then changed once.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { makeTempDir, type TempDir } from '../e2e/harness.js';
import { SeededRandom } from '../fixtures/seeded-random.js';
import { removeTree } from '../fixtures/remove-tree.js';
import { copyRepository, describeRun, diedBySigkill, initRepository, runFerry, runFerryOk, type CrashRunResult } from './crash-harness.js';
import { assertRecovers, assertSoundAfterCrash, describeTempFiles } from './recovery.js';
import { listRepositoryFiles, objectsIn, tempFilesIn, type ObjectFolder, type RepoFile } from './repository-state.js';
import { buildSourceTree, MiB, mutateSourceTree, SMALL_TREE } from './source-tree.js';

/** Packs of 1 MiB: the small tree makes several data packs in a first backup, the change two or more. */
const PACK_SIZE = MiB;
/** The new file of the incremental backup's change: several packs of its own. */
const CHANGE_BYTES = 3 * MiB;

const SEED = 20_240_611;
const HOST = 'failpoint-host';

/** An inclusive range of how many new objects of a kind the crashed run left under final names. */
type Count = readonly [min: number, max: number];
const NONE: Count = [0, 0];
const ONE: Count = [1, 1];
const atLeast = (n: number): Count => [n, Number.POSITIVE_INFINITY];

interface BackupCase {
  /** The FERRY_FAILPOINT value. */
  readonly failpoint: string;
  /** `incremental`: the repository already holds a complete backup of the source, which then changed. */
  readonly run: 'first' | 'incremental';
  /** New objects right after the crash. */
  readonly packs: Count;
  readonly indexFiles: Count;
  readonly snapshots: Count;
  readonly locks: Count;
  /** A folder that must hold a temp file of the interrupted save. */
  readonly tempIn?: ObjectFolder;
  /** No index file names the new packs yet: check must warn once per new pack, as a warning only. */
  readonly packsUnindexed?: boolean;
}

const beforeLock = { packs: NONE, indexFiles: NONE, snapshots: NONE } as const;
const beforeIndex = { indexFiles: NONE, snapshots: NONE, locks: ONE, packsUnindexed: true } as const;
const beforeSnapshot = { packs: atLeast(1), indexFiles: ONE, snapshots: NONE, locks: ONE } as const;
const afterSnapshot = { packs: atLeast(1), indexFiles: ONE, snapshots: ONE, locks: ONE } as const;

/** Every failpoint a first backup passes, and the 2nd and 3rd hits of the pack steps. */
const FIRST_BACKUP_CASES: Omit<BackupCase, 'run'>[] = [
  // Taking the lock, the first write of a backup.
  { failpoint: 'fs-written:locks', ...beforeLock, locks: NONE, tempIn: 'locks' },
  { failpoint: 'fs-synced:locks', ...beforeLock, locks: NONE, tempIn: 'locks' },
  { failpoint: 'fs-renamed:locks', ...beforeLock, locks: ONE },
  // Packs. Two saves may be in flight, so at the N-th hit of one step another save may be a step ahead.
  { failpoint: 'fs-written:data', ...beforeIndex, packs: NONE, tempIn: 'data' },
  { failpoint: 'fs-synced:data', ...beforeIndex, packs: NONE, tempIn: 'data' },
  { failpoint: 'fs-renamed:data', ...beforeIndex, packs: atLeast(1) },
  { failpoint: 'pack-saved', ...beforeIndex, packs: atLeast(1) },
  { failpoint: 'fs-written:data:2', ...beforeIndex, packs: [0, 1], tempIn: 'data' },
  { failpoint: 'fs-renamed:data:2', ...beforeIndex, packs: atLeast(2) },
  { failpoint: 'pack-saved:2', ...beforeIndex, packs: atLeast(2) },
  { failpoint: 'fs-renamed:data:3', ...beforeIndex, packs: atLeast(3) },
  { failpoint: 'pack-saved:3', ...beforeIndex, packs: atLeast(3) },
  // The index file naming every pack of the backup (fewer than 64 packs: one file, at the end).
  { failpoint: 'fs-written:index', ...beforeSnapshot, indexFiles: NONE, tempIn: 'index', packsUnindexed: true },
  { failpoint: 'fs-synced:index', ...beforeSnapshot, indexFiles: NONE, tempIn: 'index', packsUnindexed: true },
  { failpoint: 'fs-renamed:index', ...beforeSnapshot },
  { failpoint: 'index-saved', ...beforeSnapshot },
  // The snapshot, last; the lock stays behind.
  { failpoint: 'fs-written:snapshots', ...beforeSnapshot, tempIn: 'snapshots' },
  { failpoint: 'fs-synced:snapshots', ...beforeSnapshot, tempIn: 'snapshots' },
  { failpoint: 'fs-renamed:snapshots', ...afterSnapshot },
  { failpoint: 'snapshot-saved', ...afterSnapshot },
];

/** One crash per write stage of a backup that has a parent and stores only the change (about 3 MiB). */
const INCREMENTAL_CASES = new Set(['fs-renamed:locks', 'fs-written:data', 'pack-saved', 'pack-saved:2', 'fs-written:index', 'index-saved', 'fs-written:snapshots', 'snapshot-saved']);

function backupCases(run: BackupCase['run']): BackupCase[] {
  const cases = FIRST_BACKUP_CASES.map((c) => ({ ...c, run }));
  return run === 'first' ? cases : cases.filter((c) => INCREMENTAL_CASES.has(c.failpoint));
}

interface InitCase {
  readonly failpoint: string;
  /** Key slots under final names right after the crash. */
  readonly keys: number;
  /** Whether `config` exists right after the crash (then a second init must refuse). */
  readonly config: boolean;
}

const INIT_CASES: InitCase[] = [
  { failpoint: 'fs-written:keys', keys: 0, config: false },
  { failpoint: 'fs-synced:keys', keys: 0, config: false },
  { failpoint: 'fs-renamed:keys', keys: 1, config: false },
  { failpoint: 'fs-written:config', keys: 1, config: false },
  { failpoint: 'fs-synced:config', keys: 1, config: false },
  { failpoint: 'fs-renamed:config', keys: 1, config: true },
];

/** Asserts the run died by SIGKILL at `failpoint` (not by an error, and not by finishing before it). */
function assertKilledAt(failpoint: string, args: readonly string[], result: CrashRunResult): void {
  const name = failpoint.replace(/:\d+$/, '');
  assert.ok(diedBySigkill(result), `FERRY_FAILPOINT=${failpoint}: expected death by SIGKILL: ${describeRun(args, result)}`);
  assert.ok(result.stderr.includes(`failpoint ${name} reached`), `FERRY_FAILPOINT=${failpoint}: killed elsewhere: ${describeRun(args, result)}`);
}

function countNew(before: readonly RepoFile[], after: readonly RepoFile[], folder: ObjectFolder): number {
  const old = new Set(objectsIn(before, folder).map((f) => f.key));
  return objectsIn(after, folder).filter((f) => !old.has(f.key)).length;
}

function assertCount(what: string, actual: number, [min, max]: Count, context: string): void {
  assert.ok(actual >= min && actual <= max, `${context}: ${actual} new ${what}, expected ${min}…${max}`);
}

function slug(text: string): string {
  return text.replace(/[^a-z0-9]+/gi, '-');
}

describe('crash at every failpoint of backup and init', { timeout: 15 * 60_000 }, () => {
  let tmp: TempDir;
  let baseSource: string;
  /** An initialized, empty repository: each first-backup case backs up into a copy. */
  let emptyRepo: string;
  /**
   * The incremental cases' source and repository: `source` backed up once into `repo` as HOST, then
   * changed (`change` says how). Each case crashes a backup of `source` into a copy of `repo`; nothing
   * changes `source` afterwards, so every case's backup has the same parent and the same change to store.
   */
  let incremental: Promise<{ source: string; repo: string; change: string }> | undefined;

  before(async () => {
    tmp = await makeTempDir('ferry-failpoints-');
    baseSource = join(tmp.path, 'source');
    await buildSourceTree(baseSource, SEED, SMALL_TREE);
    emptyRepo = join(tmp.path, 'empty-repo');
    await initRepository(emptyRepo, { packSize: PACK_SIZE });
  });

  /** Prepared on first use: the first-backup cases do not need it. */
  function prepareIncremental(): Promise<{ source: string; repo: string; change: string }> {
    incremental ??= (async () => {
      const dir = join(tmp.path, 'incremental');
      const source = join(dir, 'source');
      const repo = join(dir, 'repo');
      // Its own copy (cp -a keeps times, modes and hard links), changed after the first backup.
      await mkdir(dir);
      const cp = spawnSync('cp', ['-a', '--', baseSource, source], { encoding: 'utf8' });
      assert.equal(cp.status, 0, cp.stderr);
      await copyRepository(emptyRepo, repo);
      await runFerryOk(['backup', '-r', repo, source], { env: { FERRY_HOSTNAME: HOST } });
      const change = await mutateSourceTree(source, new SeededRandom(SEED + 1), 1, CHANGE_BYTES);
      return { source, repo, change };
    })();
    return incremental;
  }

  after(async () => {
    if (tmp === undefined) return;
    if (process.env.FERRY_CRASH_KEEP === '1') console.log(`kept ${tmp.path} (FERRY_CRASH_KEEP=1)`);
    else await removeTree(tmp.path);
  });

  for (const run of ['first', 'incremental'] as const) {
    describe(`${run} backup`, () => {
      for (const c of backupCases(run)) {
        it(`killed at ${c.failpoint}`, async (t: TestContext) => {
          const dir = join(tmp.path, `${run}-${slug(c.failpoint)}`);
          const repo = join(dir, 'repo');
          const context = `${run} backup, FERRY_FAILPOINT=${c.failpoint}`;
          let source = baseSource;
          if (run === 'incremental') {
            const prepared = await prepareIncremental();
            source = prepared.source;
            await copyRepository(prepared.repo, repo);
            t.diagnostic(prepared.change);
          } else {
            await copyRepository(emptyRepo, repo);
          }
          const before = await listRepositoryFiles(repo);

          const args = ['backup', '-r', repo, source];
          const crashed = await runFerry(args, { env: { FERRY_FAILPOINT: c.failpoint, FERRY_HOSTNAME: HOST } });
          assertKilledAt(c.failpoint, args, crashed);

          const { files, check } = await assertSoundAfterCrash(repo, context);
          const packs = countNew(before, files, 'data');
          t.diagnostic(`${packs} new packs, ${countNew(before, files, 'index')} new index files; ${describeTempFiles(files)}`);
          assertCount('packs', packs, c.packs, context);
          assertCount('index files', countNew(before, files, 'index'), c.indexFiles, context);
          assertCount('snapshots', countNew(before, files, 'snapshots'), c.snapshots, context);
          assertCount('locks', countNew(before, files, 'locks'), c.locks, context);
          if (c.tempIn !== undefined) {
            assert.ok(tempFilesIn(files, c.tempIn).length > 0, `${context}: no temp file in ${c.tempIn}/ (${describeTempFiles(files)})`);
          }
          if (c.packsUnindexed === true) {
            const unindexed = check.warnings.filter((w) => w.includes('not in the index'));
            assert.equal(unindexed.length, packs, `${context}: check should warn about each unindexed pack: ${JSON.stringify(check.warnings)}`);
          }

          await assertRecovers({ repo, source, restoreTarget: join(dir, 'restore'), context, hostname: HOST });
          await removeTree(dir);
        });
      }
    });
  }

  describe('init', () => {
    for (const c of INIT_CASES) {
      it(`killed at ${c.failpoint}`, async (t: TestContext) => {
        const dir = join(tmp.path, `init-${slug(c.failpoint)}`);
        const repo = join(dir, 'repo');
        const context = `init, FERRY_FAILPOINT=${c.failpoint}`;
        const args = ['init', '-r', repo];
        const crashed = await runFerry(args, { env: { FERRY_FAILPOINT: c.failpoint } });
        assertKilledAt(c.failpoint, args, crashed);

        const files = await listRepositoryFiles(repo);
        const rootNames = await readdir(repo);
        t.diagnostic(`left: ${rootNames.join(', ')}; ${describeTempFiles(files)}`);
        assert.equal(objectsIn(files, 'keys').length, c.keys, `${context}: key slots after the crash`);
        assert.equal(rootNames.includes('config'), c.config, `${context}: config after the crash`);
        assert.deepEqual(objectsIn(files, 'locks'), [], `${context}: init takes no lock`);

        // Before a second init: a location without config is "no repository" (exit 10), never an error.
        const listArgs = ['snapshots', '-r', repo];
        const listed = await runFerry(listArgs);
        assert.equal(listed.code, c.config ? 0 : 10, `${context}: ${describeRun(listArgs, listed)}`);

        const again = await runFerry(args);
        if (c.config) {
          assert.ok(again.code !== 0 && /already exists/.test(again.stderr), `${context}: a second init must refuse: ${describeRun(args, again)}`);
        } else {
          assert.equal(again.code, 0, `${context}: a second init must succeed: ${describeRun(args, again)}`);
        }
        // A slot left by the crashed init stays; open skips it (its master key seals no config).
        const keysNow = objectsIn(await listRepositoryFiles(repo), 'keys').length;
        assert.equal(keysNow, c.config ? c.keys : c.keys + 1, `${context}: key slots after the second init`);
        await runFerryOk(listArgs);

        await assertRecovers({ repo, source: baseSource, restoreTarget: join(dir, 'restore'), context, hostname: HOST });
        await removeTree(dir);
      });
    }
  });
});
