import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { open, mkdir, readdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { LockHeldError } from '../../src/core/errors.js';
import { systemClock } from '../../src/core/clock.js';
import { acquireLock } from '../../src/engine/repository/lock.js';
import { Repository } from '../../src/engine/repository/repository.js';
import { FsStorage } from '../../src/storage/fs/fs-storage.js';
import { FERRY_BIN, TEST_PASSWORD, ferry, ferryOk, lastJson, makeTempDir, type RunResult, type TempDir } from './harness.js';

/** A ferry run in the background, to stop, continue or kill while it holds its lock. */
interface Background {
  readonly child: ChildProcess;
  readonly done: Promise<RunResult>;
}

function startFerry(args: readonly string[], env: Record<string, string> = {}): Background {
  const child = spawn(process.execPath, [FERRY_BIN, ...args], {
    env: { ...process.env, FERRY_PASSWORD: TEST_PASSWORD, FERRY_INSECURE_TEST_KDF: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<RunResult>((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
  return { child, done };
}

async function lockFiles(repo: string): Promise<string[]> {
  return (await readdir(join(repo, 'locks')).catch(() => [])).filter((name) => /^[0-9a-f]{64}$/.test(name));
}

async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(10)) if (await condition()) return;
  throw new Error(`timed out waiting for ${what}`);
}

/** Random, incompressible files of `mib` MiB in all, written in 16 MiB pieces. */
async function makeSource(dir: string, mib: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (let i = 0; i * 64 < mib; i++) {
    const file = await open(join(dir, `file-${i}.bin`), 'w');
    for (let written = 0; written < Math.min(64, mib - i * 64); written += 16) await file.write(randomBytes(16 * 1024 * 1024));
    await file.close();
  }
}

async function snapshotCount(repo: string): Promise<number> {
  return (JSON.parse((await ferryOk(['snapshots', '-r', repo, '--json'])).stdout) as unknown[]).length;
}

describe('locks: shared and exclusive, dead holders, refresh and lost locks', () => {
  let tmp: TempDir;
  let small: string;
  let large: string;

  before(async () => {
    tmp = await makeTempDir();
    small = join(tmp.path, 'small');
    large = join(tmp.path, 'large');
    await mkdir(small);
    await writeFile(join(small, 'a.txt'), 'hello\n');
    await makeSource(large, 320);
  });
  after(() => tmp.cleanup());

  async function newRepo(name: string): Promise<string> {
    const repo = join(tmp.path, name);
    await ferryOk(['init', '-r', repo]);
    return repo;
  }

  function openEngine(repo: string): Promise<Repository> {
    const context = { clock: systemClock, hostname: process.env.FERRY_HOSTNAME ?? hostname(), username: 'e2e' };
    return Repository.open(new FsStorage(repo), TEST_PASSWORD, context);
  }

  it('a running backup holds a shared lock: other shared commands run, `ferry forget` and an exclusive lock are refused', async () => {
    const repo = await newRepo('shared');
    const run = startFerry(['backup', '-r', repo, large]);
    await waitFor('the backup lock', async () => (await lockFiles(repo)).length === 1);
    run.child.kill('SIGSTOP');
    try {
      await ferryOk(['snapshots', '-r', repo]);
      const forget = await ferry(['forget', '-r', repo, '--keep-last', '1']);
      assert.equal(forget.code, 11, forget.stderr);
      assert.match(forget.stderr, new RegExp(`^ferry: the repository is locked by PID ${run.child.pid} on .*wait for it to finish`));
      await assert.rejects(acquireLock(await openEngine(repo), { exclusive: true, pid: process.pid }), (err: unknown) => {
        assert.ok(err instanceof LockHeldError);
        assert.match(err.message, new RegExp(`locked by PID ${run.child.pid} on `));
        return true;
      });
    } finally {
      run.child.kill('SIGCONT');
    }
    const result = await run.done;
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await lockFiles(repo), []);
  });

  it('an exclusive lock of a live process makes `ferry backup` exit 11 naming the holder; `ferry unlock` keeps it', async () => {
    const repo = await newRepo('exclusive');
    const lock = await acquireLock(await openEngine(repo), { exclusive: true, pid: process.pid });
    try {
      const refused = await ferry(['backup', '-r', repo, small]);
      assert.equal(refused.code, 11, refused.stderr);
      assert.match(refused.stderr, new RegExp(`^ferry: the repository is locked exclusively by PID ${process.pid} on .*held since at least .*ferry unlock`));
      assert.equal(refused.stderr.trim().split('\n').length, 1);
      const unlock = await ferryOk(['unlock', '-r', repo]);
      assert.match(unlock.stdout, /removed 0 stale locks; kept 1 lock/);
      assert.deepEqual(await lockFiles(repo), [lock.id]);
    } finally {
      await lock.release();
    }
    await ferryOk(['backup', '-r', repo, small]);
    assert.equal(await snapshotCount(repo), 1);
  });

  it('the lock of a SIGKILLed backup on this host is ignored by the next backup and removed by `ferry unlock`', async () => {
    const repo = await newRepo('killed');
    const run = startFerry(['backup', '-r', repo, large]);
    await waitFor('the backup lock', async () => (await lockFiles(repo)).length === 1);
    const left = await lockFiles(repo);
    run.child.kill('SIGKILL');
    await run.done;
    assert.deepEqual(await lockFiles(repo), left);
    await ferryOk(['backup', '-r', repo, small]);
    assert.deepEqual(await lockFiles(repo), left, 'the next backup ignores the dead lock and does not remove it');
    const unlock = await ferryOk(['unlock', '-r', repo]);
    assert.match(unlock.stdout, new RegExp(`removed stale shared lock ${left[0]!.slice(0, 8)} of PID ${run.child.pid} on .*: its process is gone`));
    assert.match(unlock.stdout, /removed 1 stale lock\n$/);
    assert.deepEqual(await lockFiles(repo), []);
    await ferryOk(['check', '-r', repo]);
  });

  it('killed during a lock refresh (failpoint lock-refresh): both objects are ignored, then removed by unlock', async () => {
    const repo = await newRepo('refresh-killed');
    const env = { FERRY_FAILPOINT: 'lock-refresh', FERRY_LOCK_REFRESH_MS: '20', FERRY_LOCK_STALE_MS: '60000' };
    const killed = await startFerry(['backup', '-r', repo, large], env).done;
    assert.match(killed.stderr, /failpoint lock-refresh reached/);
    assert.equal((await lockFiles(repo)).length, 2, 'the new lock object is written before the old one is removed');
    await ferryOk(['backup', '-r', repo, small]);
    const unlock = lastJson<{ removed: { stale_reason: string }[]; kept: unknown[] }>((await ferryOk(['unlock', '-r', repo, '--json'])).stdout);
    assert.deepEqual(unlock.removed.map((r) => r.stale_reason), ['process-gone', 'process-gone']);
    assert.deepEqual(unlock.kept, []);
    await ferryOk(['check', '-r', repo]);
  });

  it('C8: a backup suspended past the stale time whose lock was removed aborts without a snapshot; check passes', async () => {
    const repo = await newRepo('suspended');
    const env = { FERRY_LOCK_REFRESH_MS: '200', FERRY_LOCK_STALE_MS: '1000' };
    const run = startFerry(['backup', '-r', repo, large], env);
    await waitFor('the backup lock', async () => (await lockFiles(repo)).length === 1);
    await sleep(300);
    run.child.kill('SIGSTOP');
    let unlock: RunResult;
    try {
      await sleep(1500);
      unlock = await ferryOk(['unlock', '-r', repo], { env });
    } finally {
      run.child.kill('SIGCONT');
    }
    assert.match(unlock.stdout, new RegExp(`removed stale shared lock .* of PID ${run.child.pid} .*: not refreshed in time`));
    const result = await run.done;
    assert.equal(result.code, 11, `backup exited ${result.code}\n${result.stderr}`);
    assert.match(result.stderr, /^ferry: the repository lock was lost: .*nothing was saved/m);
    assert.doesNotMatch(result.stdout, /snapshot .* saved/);
    assert.equal(await snapshotCount(repo), 0);
    assert.deepEqual(await lockFiles(repo), []);
    await ferryOk(['check', '-r', repo]);
    const again = lastJson<{ snapshot_id: string }>((await ferryOk(['backup', '-r', repo, small, '--json'], { env })).stdout);
    assert.match(again.snapshot_id, /^[0-9a-f]{64}$/);
  });
});
