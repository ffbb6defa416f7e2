import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, it } from 'node:test';
import { LockHeldError, PermanentError } from '../../core/errors.js';
import type { Failpoints } from '../../core/failpoints.js';
import type { Id } from '../../core/ids.js';
import { objectKey } from '../../storage/layout.js';
import { MemoryStorage } from '../../storage/memory-storage.js';
import { FaultyStorage } from '../../storage/testing/faulty-storage.js';
import type { SaveOptions } from '../../storage/storage.js';
import { INSECURE_TEST_KDF } from '../crypto/key-slot.js';
import { acquireLock, loadLocks, LockLostError, STALE_LOCK_MS, type LockOptions } from './lock.js';
import { removeLocks } from './lock-removal.js';
import { Repository } from './repository.js';

const password = 'lock test password';
const MINUTE = 60 * 1000;

/** A MemoryStorage that counts saves under locks/, to see whether a refresh ran. */
class CountingStorage extends MemoryStorage {
  lockSaves = 0;
  override async save(key: string, data: Uint8Array | AsyncIterable<Uint8Array>, options?: SaveOptions): Promise<void> {
    if (key.startsWith('locks/')) this.lockSaves++;
    return super.save(key, data, options);
  }
}

/** One repository on shared storage, seen by several "processes" (hosts) that share one fake clock. */
class World {
  now = Date.UTC(2026, 10, 25, 12);
  readonly storage = new CountingStorage();
  readonly alive = new Set<number>([100, 200, 300]);
  failpoints: Failpoints | undefined;
  #repoByHost = new Map<string, Repository>();

  async repo(hostname = 'host-a'): Promise<Repository> {
    let repo = this.#repoByHost.get(hostname);
    if (!repo) {
      const context = { clock: { now: () => this.now }, hostname, username: 'tester', failpoints: { hit: (n: string) => this.failpoints?.hit(n) } };
      repo = this.#repoByHost.size === 0 ? await Repository.init(this.storage, password, context, { kdf: INSECURE_TEST_KDF }) : await Repository.open(this.storage, password, context);
      this.#repoByHost.set(hostname, repo);
    }
    return repo;
  }

  async lock(hostname: string, options: Partial<LockOptions> & { exclusive: boolean }) {
    const isProcessAlive = (pid: number): boolean => this.alive.has(pid);
    return acquireLock(await this.repo(hostname), { pid: 100, isProcessAlive, raceSettleMs: 5, ...options });
  }

  async lockIds(): Promise<Id[]> {
    return (await loadLocks(await this.repo())).map((r) => r.id).sort();
  }
}

describe('acquireLock', () => {
  let world: World;
  before(async () => {
    world = new World();
    await world.repo();
  });

  it('shared locks coexist', async () => {
    const a = await world.lock('host-a', { exclusive: false });
    const b = await world.lock('host-b', { exclusive: false, pid: 200 });
    assert.deepEqual(await world.lockIds(), [a.id, b.id].sort());
    await a.release();
    await b.release();
    assert.deepEqual(await world.lockIds(), []);
  });

  it('an exclusive lock excludes shared ones and the other way round, naming the holder and what to do', async () => {
    const exclusive = await world.lock('host-b', { exclusive: true, pid: 200 });
    await assert.rejects(world.lock('host-a', { exclusive: false }), (err: unknown) => {
      assert.ok(err instanceof LockHeldError);
      assert.equal(err.exitCode, 11);
      assert.match(err.message, /locked exclusively by PID 200 on host-b .*held since at least 2026-11-25T12:00:00\.000Z.*wait.*ferry unlock/);
      return true;
    });
    await exclusive.release();
    const shared = await world.lock('host-b', { exclusive: false, pid: 200 });
    await assert.rejects(world.lock('host-a', { exclusive: true }), LockHeldError);
    await assert.rejects(world.lock('host-c', { exclusive: true }), LockHeldError);
    await shared.release();
    assert.deepEqual(await world.lockIds(), [], 'a refused taker leaves no lock behind');
  });

  it('ignores a lock not refreshed for longer than the stale time', async () => {
    const w = new World();
    const old = await w.lock('host-b', { exclusive: true, pid: 200 });
    w.now += STALE_LOCK_MS - 1;
    await assert.rejects(w.lock('host-a', { exclusive: false }), LockHeldError);
    w.now += 2;
    const fresh = await w.lock('host-a', { exclusive: true });
    assert.equal((await w.lockIds()).length, 2, 'a stale lock is ignored, not removed');
    await fresh.release();
    await old.release();
  });

  it('ignores a lock of a dead process on this host, but not the same PID on another host', async () => {
    const w = new World();
    w.alive.delete(300);
    const remote = await w.lock('host-b', { exclusive: true, pid: 300 });
    await assert.rejects(w.lock('host-a', { exclusive: false }), LockHeldError, 'PID 300 of host-b is not judged by host-a');
    await remote.release();
    const dead = await w.lock('host-a', { exclusive: true, pid: 300 });
    const next = await w.lock('host-a', { exclusive: true, pid: 100 });
    await next.release();
    await assert.rejects(w.lock('host-b', { exclusive: false, pid: 200 }), LockHeldError, 'nor PID 300 of host-a by host-b');
    await dead.release();
  });

  it('two exclusive takers racing: at most one wins, and losers leave no lock', async () => {
    for (let round = 0; round < 5; round++) {
      const w = new World();
      await w.repo();
      await w.repo('host-b');
      const results = await Promise.allSettled([w.lock('host-a', { exclusive: true }), w.lock('host-b', { exclusive: true, pid: 200 })]);
      const winners = results.filter((r) => r.status === 'fulfilled');
      assert.ok(winners.length <= 1, `round ${round}: ${winners.length} winners`);
      for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof LockHeldError);
      assert.equal((await w.lockIds()).length, winners.length);
    }
  });

  it('exclusive and shared racing: the exclusive one backs off and the shared one keeps its lock', async () => {
    const w = new World();
    await w.repo();
    await w.repo('host-b');
    const [shared, exclusive] = await Promise.allSettled([w.lock('host-a', { exclusive: false }), w.lock('host-b', { exclusive: true, pid: 200 })]);
    assert.equal(exclusive.status, 'rejected');
    assert.ok(exclusive.reason instanceof LockHeldError);
    assert.equal(shared.status, 'fulfilled');
    assert.deepEqual(await w.lockIds(), [shared.value.id]);
  });
});

describe('RepositoryLock', () => {
  it('refresh rewrites the lock with the new time and keeps exactly one object of ours', async () => {
    const w = new World();
    const lock = await w.lock('host-a', { exclusive: false });
    const first = lock.id;
    for (let i = 1; i <= 3; i++) {
      w.now += 5 * MINUTE;
      await lock.refresh();
      const locks = await loadLocks(await w.repo());
      assert.equal(locks.length, 1);
      assert.equal(locks[0]!.id, lock.id);
      assert.equal(locks[0]!.document.time, new Date(w.now).toISOString());
    }
    assert.notEqual(lock.id, first);
    w.now += 25 * MINUTE;
    lock.assertHeld();
    await lock.release();
  });

  it('is lost once the clock passes the stale time without a refresh: assertHeld throws, signal aborts, nothing is written', async () => {
    const w = new World();
    const lock = await w.lock('host-a', { exclusive: false });
    w.now += STALE_LOCK_MS;
    lock.assertHeld();
    assert.equal(lock.signal.aborted, false);
    w.now += 1;
    assert.throws(() => lock.assertHeld(), (err: unknown) => err instanceof LockLostError && err.exitCode === 11 && /lock was lost.*nothing was saved/.test(err.message));
    assert.ok(lock.signal.aborted);
    assert.ok(lock.signal.reason instanceof LockLostError);
    const saves = w.storage.lockSaves;
    await assert.rejects(lock.refresh(), LockLostError);
    assert.equal(w.storage.lockSaves, saves, 'a lost lock is not rewritten');
    await lock.release();
    assert.deepEqual(await w.lockIds(), []);
  });

  it('is lost when a refresh finds our lock object removed by someone else', async () => {
    const w = new World();
    const lock = await w.lock('host-a', { exclusive: false });
    await w.storage.remove(objectKey('lock', lock.id));
    lock.assertHeld();
    w.now += MINUTE;
    await assert.rejects(lock.refresh(), /another process removed lock/);
    assert.throws(() => lock.assertHeld(), LockLostError);
    assert.ok(lock.signal.aborted);
    assert.deepEqual(await w.lockIds(), [], 'no new lock object is written');
    await lock.release();
  });

  it('a failed refresh keeps the lock until the stale time, then the loss names the failure', async () => {
    const w = new World();
    const faulty = new FaultyStorage(w.storage);
    const lock = await acquireLock(await Repository.open(faulty, password, (await w.repo()).context), { exclusive: false, pid: 100 });
    faulty.addFault('save', { keyPrefix: 'locks/' }).errorInstead(new PermanentError('disk full'));
    w.now += 10 * MINUTE;
    await assert.rejects(lock.refresh(), /disk full/);
    lock.assertHeld();
    assert.deepEqual(await w.lockIds(), [lock.id]);
    w.now += 21 * MINUTE;
    assert.throws(() => lock.assertHeld(), (err: unknown) => err instanceof LockLostError && /last refresh failed: disk full/.test(err.message));
    faulty.clearFaults();
    await lock.release();
    assert.deepEqual(await w.lockIds(), []);
  });

  it('failpoint lock-refresh sits after the new object is written and before the old one is removed', async () => {
    const w = new World();
    const lock = await w.lock('host-a', { exclusive: false });
    const old = lock.id;
    w.failpoints = {
      hit: (name) => {
        if (name === 'lock-refresh') throw new Error('crash here');
      },
    };
    w.now += MINUTE;
    await assert.rejects(lock.refresh(), /crash here/);
    assert.deepEqual(await w.lockIds(), [old, lock.id].sort());
    w.failpoints = undefined;
    lock.assertHeld();
    await lock.refresh();
    assert.deepEqual(await w.lockIds(), [lock.id], 'the next refresh removes the leftover');
    await lock.release();
  });

  it('the timer refreshes the lock; release removes it and stops the timer', async () => {
    const w = new World();
    const lock = await w.lock('host-a', { exclusive: false, refreshMs: 5, staleMs: 10 * MINUTE });
    const first = lock.id;
    for (let i = 0; i < 100 && lock.id === first; i++) await sleep(5);
    assert.notEqual(lock.id, first, 'the timer rewrote the lock');
    await lock.release();
    assert.deepEqual(await w.lockIds(), []);
    const saves = w.storage.lockSaves;
    await sleep(40);
    assert.equal(w.storage.lockSaves, saves, 'no refresh after release');
    await lock.release();
    assert.throws(() => lock.assertHeld(), /already released/);
  });

  it('refuses a refresh interval that is not below the stale time', async () => {
    const w = new World();
    await assert.rejects(w.lock('host-a', { exclusive: false, refreshMs: 1000, staleMs: 1000 }), RangeError);
  });
});

describe('removeLocks', () => {
  it('removes stale locks only, or every lock with all', async () => {
    const w = new World();
    const repo = await w.repo();
    const expired = await w.lock('host-b', { exclusive: false, pid: 200 });
    w.now += STALE_LOCK_MS + 1;
    const dead = await w.lock('host-a', { exclusive: false, pid: 300 });
    const live = await w.lock('host-a', { exclusive: false, pid: 100 });
    w.alive.delete(300);
    const isProcessAlive = (pid: number): boolean => w.alive.has(pid);
    const result = await removeLocks(repo, { all: false, isProcessAlive });
    assert.deepEqual(result.removed.map((r) => [r.id, r.staleReason]), [[expired.id, 'expired'], [dead.id, 'process-gone']]);
    assert.deepEqual(result.kept.map((r) => r.id), [live.id]);
    assert.deepEqual(await w.lockIds(), [live.id]);
    const all = await removeLocks(repo, { all: true, isProcessAlive });
    assert.deepEqual(all.removed.map((r) => r.id), [live.id]);
    assert.deepEqual(await w.lockIds(), []);
    w.now += MINUTE;
    await assert.rejects(live.refresh(), LockLostError);
  });
});
