import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AlreadyExistsError } from '../../core/errors.js';
import type { Principal } from '../auth/principal.js';
import type { ServiceContext } from '../context.js';
import { ServiceKey } from '../secrets/service-key.js';
import { buildServer } from '../server.js';
import { ManualClock, seededRandom } from '../testing/service-fixture.js';
import { openTestDatabase, type TestDatabase } from '../testing/test-database.js';
import { reportBackupRun, type BackupRunReport } from './backup-runs.js';

const NOW = '2026-11-25T20:00:00.000Z';

describe('one backup run per snapshot, with several service instances', () => {
  let database: TestDatabase;
  let dataDir: string;
  /** One service context per instance: on PostgreSQL each has its own pool; SQLite serves one instance, so both share its connection. */
  let instances: ServiceContext[];
  const agent: Principal = { tokenId: 'k1', role: 'agent', tenantId: 't1', vaultId: 'v1', machineId: 'm1', expiresAt: '2100-01-01T00:00:00.000Z' };

  before(async () => {
    database = await openTestDatabase();
    dataDir = await mkdtemp(join(tmpdir(), 'ferry-backup-runs-'));
    const second = database.kind === 'postgres' ? await database.openAnother() : database.db;
    const clock = new ManualClock();
    clock.advance(Date.parse(NOW) + 60_000 - clock.now());
    const serviceKey = new ServiceKey(seededRandom('service key').bytes(32));
    instances = [database.db, second].map((db, i) => buildServer({ db, dataDir, clock, random: seededRandom(`instance ${i}`), serviceKey }).ctx);
    const { db } = database;
    await db.insertInto('tenants').values({ id: 't1', name: 'one', created_at: NOW }).execute();
    await db.insertInto('storage_accounts').values({ id: 's1', tenant_id: 't1', name: 'sa', backend: null, created_at: NOW }).execute();
    await db.insertInto('vaults').values({ id: 'v1', tenant_id: 't1', storage_account_id: 's1', name: 'v', container: 'cv', created_at: NOW }).execute();
    await db.insertInto('machines').values({ id: 'm1', tenant_id: 't1', vault_id: 'v1', hostname: 'h', created_at: NOW, last_report_at: null }).execute();
  });
  after(async () => {
    await database.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('records one of several simultaneous reports of a snapshot, through either instance, and refuses the others with 409', async () => {
    for (let round = 0; round < 3; round++) {
      const snapshotId = String(round).repeat(64);
      await database.db.insertInto('vault_snapshots').values({ vault_id: 'v1', snapshot_id: snapshotId, source: 'agent', machine_id: 'm1', token_id: 'k1', job_id: null, received_at: NOW }).execute();
      const report: BackupRunReport = { startedAt: NOW, finishedAt: NOW, status: 'succeeded', snapshotId, filesProcessed: 1, bytesRead: 1, bytesAdded: 1, errorCount: 0, errors: [], trigger: 'scheduled' };
      const outcomes = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => reportBackupRun(instances[i % 2]!, agent, 'v1', report)));
      const recorded = outcomes.filter((o) => o.status === 'fulfilled');
      const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
      assert.equal(recorded.length, 1, `one report recorded in round ${round}`);
      assert.equal(refused.length, 5);
      for (const err of refused) {
        assert.ok(err instanceof AlreadyExistsError, String(err));
        assert.match(err.message, new RegExp(`snapshot ${snapshotId} was already reported, by run ${recorded[0]!.value.id}`));
      }
      const rows = await database.db.selectFrom('backup_runs').select('id').where('snapshot_id', '=', snapshotId).execute();
      assert.deepEqual(rows.map((r) => r.id), [recorded[0]!.value.id]);
    }
  });
});
