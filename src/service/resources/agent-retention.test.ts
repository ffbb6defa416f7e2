import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { objectKey } from '../../storage/layout.js';
import { parseId } from '../../core/ids.js';
import { bearer, startServiceFixture, type ServiceFixture } from '../testing/service-fixture.js';
import { buildWorld, type World } from '../testing/world.js';
import { getVault } from './vaults.js';
import { openVaultStorage } from './vault-storage.js';

const DAY = 24 * 60 * 60 * 1000;
const snapshotId = (n: number): string => n.toString(16).padStart(64, '0');

describe('agent schedules and retention', () => {
  let fixture: ServiceFixture;
  let world: World;
  before(async () => {
    fixture = await startServiceFixture();
    world = await buildWorld(fixture);
  });
  after(() => fixture.close());

  const inject = (token: string, method: 'PUT' | 'POST' | 'GET', url: string, payload?: object) =>
    fixture.app.inject({ method, url, headers: bearer(token), ...(payload ? { payload } : {}) });

  /** Stores a snapshot object in tenant A's vault and reports the run that made it, `daysAgo` days back. */
  async function backedUp(n: number, daysAgo: number, trigger: 'scheduled' | 'manual', token = world.a.agentToken): Promise<void> {
    const vault = await getVault(fixture.ctx, { tokenId: 'test', role: 'admin', expiresAt: '2100-01-01T00:00:00.000Z' }, world.a.vaultId);
    const storage = await openVaultStorage(fixture.ctx, vault);
    await storage.save(objectKey('snapshot', parseId(snapshotId(n))), Buffer.from(`snapshot ${n}`));
    await storage.close();
    const start = new Date(fixture.clock.now() - daysAgo * DAY).toISOString();
    const report = { startedAt: start, finishedAt: start, status: 'succeeded', snapshotId: snapshotId(n), filesProcessed: 1, bytesRead: 1, bytesAdded: 1, trigger };
    const answer = await inject(token, 'POST', `/v1/vaults/${world.a.vaultId}/backup-runs`, report);
    assert.equal(answer.statusCode, 201, answer.body);
  }

  async function storedSnapshots(): Promise<string[]> {
    const vault = await getVault(fixture.ctx, { tokenId: 'test', role: 'admin', expiresAt: '2100-01-01T00:00:00.000Z' }, world.a.vaultId);
    const storage = await openVaultStorage(fixture.ctx, vault);
    const keys: string[] = [];
    await storage.list('snapshots/', (info) => void keys.push(info.key.slice('snapshots/'.length)));
    await storage.close();
    return keys.sort();
  }

  it('without a retention policy keeps everything', async () => {
    await backedUp(1, 30, 'scheduled');
    const answer = await inject(world.a.agentToken, 'POST', `/v1/vaults/${world.a.vaultId}/retention`);
    assert.equal(answer.statusCode, 200, answer.body);
    assert.deepEqual(answer.json(), { kept: [snapshotId(1)], forgotten: [], protected: [] });
  });

  it('removes what the policy drops, never under 7 days old, never manual runs; admins see the schedule', async () => {
    for (let day = 2; day <= 20; day++) await backedUp(day, 21 - day, 'scheduled'); // one a day, 19 … 1 days ago
    await backedUp(100, 25, 'manual');
    const set = await inject(world.a.agentToken, 'PUT', `/v1/vaults/${world.a.vaultId}/schedule`, { daily: '02:30', retention: { keepLast: 3 } });
    assert.equal(set.statusCode, 200, set.body);

    const answer = await inject(world.a.agentToken, 'POST', `/v1/vaults/${world.a.vaultId}/retention`);
    assert.equal(answer.statusCode, 200, answer.body);
    const outcome = answer.json<{ kept: string[]; forgotten: string[]; protected: string[] }>();
    assert.deepEqual(outcome.kept.sort(), [snapshotId(18), snapshotId(19), snapshotId(20)]);
    // 15–17 (6 to 4 days old) are under the 7-day floor and stay; 14 (exactly 7 days) and older go.
    assert.deepEqual(outcome.protected.sort(), [15, 16, 17].map(snapshotId));
    assert.deepEqual(outcome.forgotten.sort(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14].map(snapshotId));
    assert.deepEqual(await storedSnapshots(), [100, 15, 16, 17, 18, 19, 20].map(snapshotId).sort(), 'the manual run and the kept ones remain');

    const again = await inject(world.a.agentToken, 'POST', `/v1/vaults/${world.a.vaultId}/retention`);
    assert.deepEqual(again.json<{ forgotten: string[] }>().forgotten, [], 'forgotten runs are not judged again');

    const machines = await inject(world.a.tenantAdminToken, 'GET', `/v1/vaults/${world.a.vaultId}/machines`);
    const [machine] = machines.json<{ machines: { schedule: { daily: string; retention: object } | null }[] }>().machines;
    assert.deepEqual({ daily: machine!.schedule!.daily, retention: machine!.schedule!.retention }, { daily: '02:30', retention: { keepLast: 3 } });
    const runs = await inject(world.a.tenantAdminToken, 'GET', `/v1/vaults/${world.a.vaultId}/backup-runs?limit=500`);
    const forgotten = runs.json<{ backupRuns: { snapshotId: string; forgottenAt: string | null }[] }>().backupRuns.filter((r) => r.forgottenAt !== null);
    assert.equal(forgotten.length, 14);
  });

  it('refuses an invalid schedule with a clear 400', async () => {
    for (const body of [{ daily: '24:00', retention: null }, { daily: '02:30', retention: { keepDaily: 'seven' } }, { daily: '02:30', retention: { keepWithin: '7 days' } }]) {
      const answer = await inject(world.a.agentToken, 'PUT', `/v1/vaults/${world.a.vaultId}/schedule`, body);
      assert.equal(answer.statusCode, 400, JSON.stringify(body));
      assert.equal(answer.json<{ code: string }>().code, 'INVALID_REQUEST');
    }
  });
});
