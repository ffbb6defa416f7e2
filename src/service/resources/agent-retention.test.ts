import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bearer, startServiceFixture, type ServiceFixture } from '../testing/service-fixture.js';
import { buildWorld, type World } from '../testing/world.js';
import { shapedObject } from '../vault-objects/testing/shaped-objects.js';
import { recordSnapshotArrival, snapshotProvenance } from './snapshot-provenance.js';
import { getVault } from './vaults.js';
import { openVaultStorage } from './vault-storage.js';

const DAY = 24 * 60 * 60 * 1000;
type Outcome = { kept: string[]; forgotten: string[]; protected: string[] };

describe('agent schedules and retention, decided from what the service recorded', () => {
  let fixture: ServiceFixture;
  let world: World;
  /** A second machine of tenant A's vault. */
  let other: { token: string; machineId: string };
  let seed = 0;
  /** The attacker's own scheduled snapshots of the third test: genuinely old by the end of the fourth. */
  const attackersOwn: string[] = [];
  before(async () => {
    fixture = await startServiceFixture();
    world = await buildWorld(fixture);
    const credentials = await inject(world.a.tenantAdminToken, 'POST', `/v1/vaults/${world.a.vaultId}/credentials`, {});
    assert.equal(credentials.statusCode, 201, credentials.body);
    const registered = await inject(undefined, 'POST', '/v1/registrations', { code: credentials.json<{ registrationCode: string }>().registrationCode, hostname: 'other-host' });
    assert.equal(registered.statusCode, 201, registered.body);
    const body = registered.json<{ token: string; machine: { id: string } }>();
    other = { token: body.token, machineId: body.machine.id };
  });
  after(() => fixture.close());

  function inject(token: string | undefined, method: 'PUT' | 'POST' | 'GET', url: string, payload?: object) {
    return fixture.app.inject({ method, url, headers: token ? bearer(token) : {}, ...(payload ? { payload } : {}) });
  }
  const vaultUrl = (path: string): string => `/v1/vaults/${world.a.vaultId}${path}`;
  const iso = (ms: number): string => new Date(ms).toISOString();

  /** Stores a new snapshot object in tenant A's vault through the object routes as `token`; returns its id. */
  async function store(token: string): Promise<string> {
    const { key, bytes } = shapedObject('snapshot', ++seed);
    const answer = await fixture.app.inject({ method: 'PUT', url: vaultUrl(`/objects/${key}`), headers: { ...bearer(token), 'content-type': 'application/octet-stream' }, payload: bytes });
    assert.equal(answer.statusCode, 201, answer.body);
    return key.slice('snapshots/'.length);
  }

  function report(token: string, snapshotId: string | null, trigger: 'scheduled' | 'manual', startedAt = iso(fixture.clock.now() - 60_000), over: object = {}) {
    const finishedAt = iso(Math.max(Date.parse(startedAt), fixture.clock.now()));
    return inject(token, 'POST', vaultUrl('/backup-runs'), { startedAt, finishedAt, status: 'succeeded', snapshotId, filesProcessed: 1, bytesRead: 1, bytesAdded: 1, trigger, ...over });
  }

  async function reported(token: string, snapshotId: string, trigger: 'scheduled' | 'manual'): Promise<void> {
    const answer = await report(token, snapshotId, trigger);
    assert.equal(answer.statusCode, 201, answer.body);
  }

  async function retention(token = world.a.agentToken): Promise<Outcome> {
    const answer = await inject(token, 'POST', vaultUrl('/retention'));
    assert.equal(answer.statusCode, 200, answer.body);
    return answer.json<Outcome>();
  }

  async function storedSnapshots(): Promise<string[]> {
    const vault = await getVault(fixture.ctx, { tokenId: 'test', role: 'admin', expiresAt: '2100-01-01T00:00:00.000Z' }, world.a.vaultId);
    const storage = await openVaultStorage(fixture.ctx, vault);
    const keys: string[] = [];
    await storage.list('snapshots/', (info) => void keys.push(info.key.slice('snapshots/'.length)));
    await storage.close();
    return keys.sort();
  }

  function expectRefused(answer: { statusCode: number; body: string; json: <T>() => T }, message: RegExp): void {
    assert.equal(answer.statusCode, 400, answer.body);
    assert.equal(answer.json<{ code: string }>().code, 'RUN_REPORT_REFUSED');
    assert.match(answer.json<{ message: string }>().message, message);
  }

  it('records who stored each snapshot and when, by the service', async () => {
    const mine = await store(world.a.agentToken);
    const admins = await store(world.a.tenantAdminToken);
    assert.deepEqual(await snapshotProvenance(fixture.db, world.a.vaultId, mine), {
      snapshotId: mine, source: 'agent', machineId: world.a.machineId, tokenId: world.a.agentTokenId, jobId: null, receivedAt: iso(fixture.clock.now()),
    });
    assert.equal((await snapshotProvenance(fixture.db, world.a.vaultId, admins))?.source, 'tenant-admin');
    assert.equal((await snapshotProvenance(fixture.db, world.a.vaultId, admins))?.machineId, null);
    // A re-send by another machine stores nothing and leaves the record as it was.
    const { bytes } = shapedObject('snapshot', seed - 1);
    const resend = await fixture.app.inject({ method: 'PUT', url: vaultUrl(`/objects/snapshots/${mine}`), headers: { ...bearer(other.token), 'content-type': 'application/octet-stream' }, payload: bytes });
    assert.equal(resend.statusCode, 200, resend.body);
    assert.equal((await snapshotProvenance(fixture.db, world.a.vaultId, mine))?.machineId, world.a.machineId);
    // A tenant-admin's removal drops the record.
    const removed = await fixture.app.inject({ method: 'DELETE', url: vaultUrl(`/objects/snapshots/${admins}`), headers: bearer(world.a.tenantAdminToken) });
    assert.equal(removed.statusCode, 204);
    assert.equal(await snapshotProvenance(fixture.db, world.a.vaultId, admins), undefined);
  });

  it('refuses run reports with impossible values, and snapshots the machine did not store', async () => {
    fixture.clock.advance(30 * DAY); // the machines registered 30 days ago
    const now = fixture.clock.now();
    const admins = await store(world.a.tenantAdminToken);
    const theirs = await store(other.token);
    const imported = await store(world.a.tenantAdminToken);
    // As the adoption worker records it (the row of a tenant-admin's upload is replaced by an import's here).
    await fixture.db.deleteFrom('vault_snapshots').where('snapshot_id', '=', imported).execute();
    await recordSnapshotArrival(fixture.ctx, world.a.vaultId, imported, { source: 'import', jobId: world.jobId });
    const old = iso(now - 20 * DAY);

    expectRefused(await report(world.a.agentToken, admins, 'scheduled', old), /stored by a tenant-admin token, not by this machine/);
    expectRefused(await report(world.a.agentToken, theirs, 'scheduled', old), /stored by another machine/);
    expectRefused(await report(world.a.agentToken, imported, 'scheduled', old), new RegExp(`adoption of import job ${world.jobId}`));
    expectRefused(await report(world.a.agentToken, 'ab'.repeat(32), 'scheduled', old), /never received snapshot/);
    expectRefused(await report(world.a.agentToken, null, 'scheduled', '9999-12-31T00:00:00.000Z'), /in the future/);
    expectRefused(await report(world.a.agentToken, null, 'manual', iso(now + 10 * 60_000)), /in the future/);
    expectRefused(await report(world.a.agentToken, null, 'scheduled', '2001-01-01T00:00:00.000Z'), /before the machine registered/);
    const negative = await report(world.a.agentToken, null, 'scheduled', old, { filesProcessed: -5 });
    assert.equal(negative.statusCode, 400);
    assert.equal(negative.json<{ code: string }>().code, 'INVALID_REQUEST');
    // A small clock skew is fine.
    assert.equal((await report(world.a.agentToken, null, 'manual', iso(now + 60_000))).statusCode, 201);

    for (const retention of [{ keepLast: -1 }, { keepDaily: -1 }, { keepLast: -3 }]) {
      const schedule = await inject(world.a.agentToken, 'PUT', vaultUrl('/schedule'), { daily: '02:30', retention });
      assert.equal(schedule.statusCode, 400, JSON.stringify(retention));
      assert.equal(schedule.json<{ code: string }>().code, 'INVALID_REQUEST');
    }

    // One run per snapshot: a manual run cannot be reported again as scheduled.
    const manual = await store(world.a.agentToken);
    await reported(world.a.agentToken, manual, 'manual');
    const again = await report(world.a.agentToken, manual, 'scheduled', old);
    assert.equal(again.statusCode, 409, again.body);
    assert.equal(again.json<{ code: string }>().code, 'ALREADY_EXISTS');
  });

  it('a stolen agent token erases nothing: old claimed dates, foreign snapshots and a short policy forget none', async () => {
    const before = await storedSnapshots();
    // The attacker stores two snapshots now, claims their runs started 25 and 24 days ago, asks for keep-last 1.
    const older = await store(world.a.agentToken);
    const newer = await store(world.a.agentToken);
    attackersOwn.push(older, newer);
    assert.equal((await report(world.a.agentToken, older, 'scheduled', iso(fixture.clock.now() - 25 * DAY))).statusCode, 201);
    assert.equal((await report(world.a.agentToken, newer, 'scheduled', iso(fixture.clock.now() - 24 * DAY))).statusCode, 201);
    const set = await inject(world.a.agentToken, 'PUT', vaultUrl('/schedule'), { daily: '02:30', retention: { keepLast: 1 } });
    assert.equal(set.statusCode, 200, set.body);
    const outcome = await retention();
    assert.deepEqual(outcome.forgotten, [], 'judged by when the service received them, not by the claimed start');
    assert.equal(outcome.protected.length, 1);
    assert.deepEqual((await retention(other.token)).forgotten, [], 'the other machine has no scheduled runs');
    assert.deepEqual(await storedSnapshots(), [...before, older, newer].sort(), 'every snapshot object is still there');
  });

  it("forgets the machine's own scheduled snapshots the policy drops, never one under 7 days old by the service's clock", async () => {
    await inject(world.a.agentToken, 'PUT', vaultUrl('/schedule'), { daily: '02:30', retention: null });
    const untouchable = (await storedSnapshots()).filter((id) => !attackersOwn.includes(id));
    const days: string[] = [];
    for (let day = 0; day < 12; day++) {
      fixture.clock.advance(DAY);
      const id = await store(world.a.agentToken);
      await reported(world.a.agentToken, id, 'scheduled');
      days.push(id); // days[i] arrived 12 - i days before the end of the loop
    }
    const manual = await store(world.a.agentToken);
    await reported(world.a.agentToken, manual, 'manual');
    const theirs = await store(other.token);
    await reported(other.token, theirs, 'scheduled');
    assert.deepEqual((await retention()).forgotten, [], 'without a policy nothing goes');

    const set = await inject(world.a.agentToken, 'PUT', vaultUrl('/schedule'), { daily: '02:30', retention: { keepLast: 2 } });
    assert.equal(set.statusCode, 200, set.body);
    const outcome = await retention();
    // Received 11 … 0 days ago: the 2 newest are kept; 1 to 6 days old are under the floor; 7 days and older go.
    assert.deepEqual(outcome.kept.sort(), days.slice(10).sort());
    assert.deepEqual(outcome.protected.sort(), days.slice(5, 10).sort());
    assert.deepEqual(outcome.forgotten.sort(), [...attackersOwn, ...days.slice(0, 5)].sort(), 'and the scheduled ones of the earlier test, now 12 days old');
    assert.deepEqual(await storedSnapshots(), [...untouchable, ...days.slice(5), manual, theirs].sort(), "the manual run's, the other machine's and the tenant-admin's remain");
    for (const id of outcome.forgotten) assert.equal(await snapshotProvenance(fixture.db, world.a.vaultId, id), undefined);

    assert.deepEqual((await retention()).forgotten, [], 'forgotten runs are not judged again');
    const runs = await inject(world.a.tenantAdminToken, 'GET', vaultUrl('/backup-runs?limit=500'));
    const forgotten = runs.json<{ backupRuns: { snapshotId: string | null; forgottenAt: string | null }[] }>().backupRuns.filter((r) => r.forgottenAt !== null);
    assert.deepEqual(forgotten.map((r) => r.snapshotId).sort(), outcome.forgotten.sort());
    const machines = await inject(world.a.tenantAdminToken, 'GET', vaultUrl('/machines'));
    const machine = machines.json<{ machines: { id: string; schedule: { daily: string; retention: object } | null }[] }>().machines.find((m) => m.id === world.a.machineId);
    assert.deepEqual({ daily: machine!.schedule!.daily, retention: machine!.schedule!.retention }, { daily: '02:30', retention: { keepLast: 2 } });
  });

  it('refuses an invalid schedule with a clear 400', async () => {
    for (const body of [{ daily: '24:00', retention: null }, { daily: '02:30', retention: { keepDaily: 'seven' } }, { daily: '02:30', retention: { keepWithin: '7 days' } }]) {
      const answer = await inject(world.a.agentToken, 'PUT', vaultUrl('/schedule'), body);
      assert.equal(answer.statusCode, 400, JSON.stringify(body));
      assert.equal(answer.json<{ code: string }>().code, 'INVALID_REQUEST');
    }
  });
});
