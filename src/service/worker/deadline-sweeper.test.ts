import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemRandom } from '../../core/random.js';
import { expireOverdueJobs } from '../jobs/deadline-sweep.js';
import { readJob } from '../jobs/job-records.js';
import { importJobSettings } from '../jobs/job-settings.js';
import { changeImportJob, insertImportJob } from '../jobs/job-store.js';
import { startService } from '../serve.js';
import { TEST_ACTOR, prepareDisks, storeOf } from '../testing/import-job-fixtures.js';
import { ManualClock, startServiceFixture } from '../testing/service-fixture.js';
import { openTestDatabase } from '../testing/test-database.js';
import { buildWorld } from '../testing/world.js';
import { startDeadlineSweeper, sweepIntervalFor } from './deadline-sweeper.js';
import type { WorkerLogger } from './periodic-worker.js';

const NOW = '2026-11-25T12:00:00.000Z';

/** A logger that keeps what it was told. */
function recordingLogger(): WorkerLogger & { lines: { level: string; message: string; object: object }[] } {
  const lines: { level: string; message: string; object: object }[] = [];
  return {
    lines,
    info: (object, message) => lines.push({ level: 'info', message, object }),
    error: (object, message) => lines.push({ level: 'error', message, object }),
  };
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('the tracking deadline sweeper', () => {
  it('sweeps at an interval of a tenth of the deadline, between 1 s and 1 min', () => {
    assert.equal(sweepIntervalFor(14 * 86_400_000), 60_000);
    assert.equal(sweepIntervalFor(300_000), 30_000);
    assert.equal(sweepIntervalFor(3000), 1000);
  });

  it('deletes overdue jobs in the background, logs each, keeps going after a failed pass, and stops cleanly', async () => {
    const fixture = await startServiceFixture({ importJobs: { trackingDeadlineMs: 10_000 } });
    const log = recordingLogger();
    try {
      const world = await buildWorld(fixture);
      await prepareDisks(fixture, world.jobId, 1);
      const state = async (): Promise<string | undefined> => (await readJob(fixture.db, world.jobId))?.job.state;
      let passes = 0;
      const store = storeOf(fixture);
      const counting = {
        ...store,
        get db() {
          passes++;
          return store.db;
        },
      };
      const sweeper = startDeadlineSweeper(counting, { intervalMs: 5, log });
      try {
        await until(async () => passes > 3, 'a few passes');
        assert.equal(await state(), 'Creating');
        fixture.clock.advance(10_000);
        await until(async () => (await state()) === 'Deleted', 'the job to be deleted');
        await until(async () => log.lines.length > 0, 'the log line');
        assert.deepEqual(log.lines[0], {
          level: 'info',
          message: 'import job deleted: no carrier and tracking number by its tracking deadline',
          object: { jobId: world.jobId, tenantId: world.a.tenantId, trackingDeadline: new Date(fixture.clock.now()).toISOString() },
        });
      } finally {
        await sweeper.stop();
      }
      const stoppedAt = passes;
      await sleep(50);
      assert.equal(passes, stoppedAt, 'no pass after stop');

      // A failing pass is logged and the next one runs.
      let failures = 1;
      const flaky = {
        ...store,
        get db() {
          if (failures-- > 0) throw new Error('database unavailable');
          return store.db;
        },
      };
      const second = startDeadlineSweeper(flaky, { intervalMs: 5, log });
      try {
        await until(async () => failures < 0, 'a pass after the failed one');
        assert.ok(log.lines.some((l) => l.level === 'error' && /the tracking deadline sweep failed/.test(l.message)));
      } finally {
        await second.stop();
      }
    } finally {
      await fixture.close();
    }
  });

  it('runs in ferry serve with the configured deadline and stops with it', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'ferry-sweep-serve-'));
    const clock = new ManualClock();
    const database = await openTestDatabase({ migrate: false });
    const service = await startService({ dataDir, ...(database.kind === 'postgres' ? { database: database.location } : {}), host: '127.0.0.1', port: 0, clock, importJobs: { trackingDeadlineMs: 5000 }, sweepIntervalMs: 10 });
    try {
      const ctx = service.server.ctx;
      assert.equal(ctx.importJobs.trackingDeadlineMs, 5000);
      const db = ctx.db;
      await db.insertInto('tenants').values({ id: 't1', name: 't', created_at: NOW }).execute();
      await db.insertInto('storage_accounts').values({ id: 's1', tenant_id: 't1', name: 's', backend: null, created_at: NOW }).execute();
      await db.insertInto('vaults').values({ id: 'v1', tenant_id: 't1', storage_account_id: 's1', name: 'v', container: 'cv', created_at: NOW }).execute();
      await insertImportJob(db, clock.now(), { id: 'j1', tenantId: 't1', vaultId: 'v1', storageAccountId: 's1', container: 'cj', name: 'j', actor: TEST_ACTOR, createdByTokenId: null });
      const store = { db, clock, random: ctx.random, settings: ctx.importJobs };
      await changeImportJob(store, 'j1', { kind: 'registerDisk', disk: { id: 'd1', index: 0, bytes: 1, files: 1, manifestSha256: 'ab'.repeat(32) } }, TEST_ACTOR, { sealedDiskKey: 'k' });
      await changeImportJob(store, 'j1', { kind: 'markPrepared', disks: 1 }, TEST_ACTOR);
      clock.advance(5000);
      await until(async () => (await readJob(db, 'j1'))?.job.state === 'Deleted', 'the service to delete the job');
    } finally {
      await service.stop();
      await database.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('deletes each job once when two instances sweep one database at the same time', async () => {
    const database = await openTestDatabase({ shared: true });
    const one = database.db;
    const two = await database.openAnother();
    try {
      const clock = new ManualClock();
      const settings = importJobSettings({ trackingDeadlineMs: 1000 });
      await one.insertInto('tenants').values({ id: 't1', name: 't', created_at: NOW }).execute();
      await one.insertInto('storage_accounts').values({ id: 's1', tenant_id: 't1', name: 's', backend: null, created_at: NOW }).execute();
      for (let i = 0; i < 6; i++) {
        await one.insertInto('vaults').values({ id: `v${i}`, tenant_id: 't1', storage_account_id: 's1', name: `v${i}`, container: `cv${i}`, created_at: NOW }).execute();
        await insertImportJob(one, clock.now(), { id: `j${i}`, tenantId: 't1', vaultId: `v${i}`, storageAccountId: 's1', container: 'cj', name: `j${i}`, actor: TEST_ACTOR, createdByTokenId: null });
        const store = { db: one, clock, random: systemRandom, settings };
        await changeImportJob(store, `j${i}`, { kind: 'registerDisk', disk: { id: `d${i}`, index: 0, bytes: 1, files: 1, manifestSha256: 'ab'.repeat(32) } }, TEST_ACTOR, { sealedDiskKey: 'k' });
        await changeImportJob(store, `j${i}`, { kind: 'markPrepared', disks: 1 }, TEST_ACTOR);
      }
      clock.advance(1000);
      const [a, b] = await Promise.all([expireOverdueJobs({ db: one, clock, random: systemRandom, settings }), expireOverdueJobs({ db: two, clock, random: systemRandom, settings })]);
      assert.deepEqual([...a, ...b].map((j) => j.id).sort(), ['j0', 'j1', 'j2', 'j3', 'j4', 'j5']);
      const deletions = await one.selectFrom('job_events').select('job_id').where('state', '=', 'Deleted').execute();
      assert.equal(deletions.length, 6, 'one Deleted event per job');
      const audited = await one.selectFrom('audit_records').select(['target_id', 'actor']).where('action', '=', 'job.delete').execute();
      assert.deepEqual(audited.map((r) => r.target_id).sort(), ['j0', 'j1', 'j2', 'j3', 'j4', 'j5'], 'one audit record per deleted job');
      assert.ok(audited.every((r) => r.actor === 'service:deadline-sweep'));
    } finally {
      await database.close();
    }
  });
});
