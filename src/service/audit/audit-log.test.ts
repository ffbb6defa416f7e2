import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { parseId } from '../../core/ids.js';
import { PermanentError } from '../../core/errors.js';
import { objectKey } from '../../storage/layout.js';
import { FaultyStorage } from '../../storage/testing/faulty-storage.js';
import type { Principal } from '../auth/principal.js';
import { principalForSecret } from '../auth/token-store.js';
import { claimAdoption } from '../jobs/adoption-lease.js';
import { expireOverdueJobs } from '../jobs/deadline-sweep.js';
import { readJob } from '../jobs/job-records.js';
import { applyAgentRetention } from '../resources/agent-retention.js';
import { openImportStorage } from '../resources/import-adoption.js';
import { getVault } from '../resources/vaults.js';
import { openVaultStorage } from '../resources/vault-storage.js';
import { diskRegistration, driveJob, prepareDisks, storeOf, type DrivenState } from '../testing/import-job-fixtures.js';
import { expectStatus, injectAs, startServiceFixture, type ServiceFixture } from '../testing/service-fixture.js';
import { buildWorld, type World } from '../testing/world.js';
import { shapedObject } from '../vault-objects/testing/shaped-objects.js';
import { runAdoption } from '../worker/adoption-run.js';
import type { AuditRecord } from './audit-log.js';
import { listAuditRecords } from './audit-query.js';

const ADMIN: Principal = { tokenId: 'audit-test', role: 'admin', expiresAt: '2100-01-01T00:00:00.000Z' };
const DAY = 86_400_000;

let f: ServiceFixture;
let w: World;
beforeEach(async () => {
  f = await startServiceFixture();
  w = await buildWorld(f);
});
afterEach(() => f.close());

/** Runs `act` and answers the audit records it added, oldest first. */
async function recordsOf(act: () => Promise<unknown>): Promise<AuditRecord[]> {
  const before = new Set((await f.db.selectFrom('audit_records').select('id').execute()).map((r) => r.id));
  await act();
  const { records } = await listAuditRecords(f.ctx, ADMIN, { limit: 1000 });
  return records.filter((r) => !before.has(r.id)).reverse();
}

/** The one record `act` added; fails when it added none or several. */
async function recordOf(act: () => Promise<unknown>): Promise<AuditRecord> {
  const records = await recordsOf(act);
  assert.equal(records.length, 1, `exactly one audit record, got ${JSON.stringify(records, null, 1)}`);
  return records[0]!;
}

/** The actions of `records`, sorted. */
function actionsOf(records: readonly AuditRecord[]): string[] {
  return records.map((r) => r.action).sort();
}

/** The one record of `action` among `records`. */
function only(records: readonly AuditRecord[], action: string): AuditRecord {
  const found = records.filter((r) => r.action === action);
  assert.equal(found.length, 1, `exactly one ${action} record, got ${JSON.stringify(records, null, 1)}`);
  return found[0]!;
}

/** `<role>:<token id>` of a token's bearer, as the log names actors. */
async function actor(token: string): Promise<string> {
  const principal = await principalForSecret(f.ctx, token);
  return `${principal.role}:${principal.tokenId}`;
}

async function jobIn(state: DrivenState): Promise<void> {
  await prepareDisks(f, w.jobId, 1);
  await driveJob(f, w.jobId, state);
}

const expectRecord = (record: AuditRecord, expected: Omit<AuditRecord, 'id' | 'at' | 'detail'> & { detail?: Record<string, unknown> }): void => {
  const { detail, ...rest } = expected;
  assert.deepEqual({ actor: record.actor, tenantId: record.tenantId, action: record.action, target: record.target, outcome: record.outcome }, rest);
  assert.equal(record.at, new Date(f.clock.now()).toISOString(), 'the service clock at the act');
  if (detail !== undefined) for (const [k, v] of Object.entries(detail)) assert.deepEqual(record.detail[k], v, `detail.${k}`);
};

describe('the audit log records every privileged act, once', () => {
  it('token created and revoked; revoking again records nothing', async () => {
    let created: { id: string } | undefined;
    const record = await recordOf(async () => {
      const answer = await injectAs(f, w.a.tenantAdminToken, 'POST', '/v1/tokens', { role: 'tenant-admin', tenantId: w.a.tenantId });
      expectStatus(answer, 201);
      created = answer.json();
    });
    const by = await actor(w.a.tenantAdminToken);
    expectRecord(record, { actor: by, tenantId: w.a.tenantId, action: 'token.create', target: { type: 'token', id: created!.id }, outcome: 'ok', detail: { role: 'tenant-admin' } });
    assert.ok(!JSON.stringify(record).includes('fry_'), 'no secret in the log');

    const revoke = () => injectAs(f, w.a.tenantAdminToken, 'DELETE', `/v1/tokens/${created!.id}`).then((a) => expectStatus(a, 200));
    expectRecord(await recordOf(revoke), { actor: by, tenantId: w.a.tenantId, action: 'token.revoke', target: { type: 'token', id: created!.id }, outcome: 'ok' });
    assert.deepEqual(await recordsOf(revoke), [], 'an idempotent repeat is no second act');
  });

  it('a token that is refused records nothing and creates nothing', async () => {
    assert.deepEqual(await recordsOf(async () => expectStatus(await injectAs(f, w.a.tenantAdminToken, 'POST', '/v1/tokens', { role: 'operator' }), 403)), []);
  });

  it('tenant, storage account with its back end, vault, vault credentials and the registration they allow', async () => {
    const admin = await actor(w.adminToken);
    let tenant: { id: string } | undefined;
    const created = await recordOf(async () => {
      const answer = await injectAs(f, w.adminToken, 'POST', '/v1/tenants', { name: 'initech' });
      expectStatus(answer, 201);
      tenant = answer.json();
    });
    expectRecord(created, { actor: admin, tenantId: tenant!.id, action: 'tenant.create', target: { type: 'tenant', id: tenant!.id }, outcome: 'ok', detail: { name: 'initech' } });

    let account: { id: string; backend: string } | undefined;
    const backend = `fs:${join(tmpdir(), 'ferry-audit-test-elsewhere')}`; // never written: no vault is used
    const accountRecord = await recordOf(async () => {
      const answer = await injectAs(f, w.adminToken, 'POST', `/v1/tenants/${tenant!.id}/storage-accounts`, { name: 'files', backend });
      expectStatus(answer, 201);
      account = answer.json();
    });
    expectRecord(accountRecord, {
      actor: admin,
      tenantId: tenant!.id,
      action: 'storage-account.create',
      target: { type: 'storage-account', id: account!.id },
      outcome: 'ok',
      detail: { name: 'files', backend: account!.backend },
    });

    let vault: { id: string } | undefined;
    const vaultRecord = await recordOf(async () => {
      const answer = await injectAs(f, w.adminToken, 'POST', `/v1/tenants/${tenant!.id}/vaults`, { name: 'fileserver', storageAccountId: account!.id });
      expectStatus(answer, 201);
      vault = answer.json();
    });
    expectRecord(vaultRecord, { actor: admin, tenantId: tenant!.id, action: 'vault.create', target: { type: 'vault', id: vault!.id }, outcome: 'ok', detail: { name: 'fileserver' } });

    let code = '';
    const credentials = await recordOf(async () => {
      const answer = await injectAs(f, w.adminToken, 'POST', `/v1/vaults/${vault!.id}/credentials`);
      expectStatus(answer, 201);
      code = answer.json<{ registrationCode: string }>().registrationCode;
    });
    const codeRow = await f.db.selectFrom('registration_codes').select('id').where('vault_id', '=', vault!.id).executeTakeFirstOrThrow();
    expectRecord(credentials, { actor: admin, tenantId: tenant!.id, action: 'vault.credentials', target: { type: 'registration-code', id: codeRow.id }, outcome: 'ok', detail: { vaultId: vault!.id } });
    assert.ok(!JSON.stringify(credentials).includes(code), 'the code is not in the log');

    let registration: { tokenId: string; machine: { id: string } } | undefined;
    const registered = await recordOf(async () => {
      const answer = await injectAs(f, undefined, 'POST', '/v1/registrations', { code, hostname: 'files-01' });
      expectStatus(answer, 201);
      registration = answer.json();
    });
    expectRecord(registered, {
      actor: `registration:${codeRow.id}`,
      tenantId: tenant!.id,
      action: 'token.create',
      target: { type: 'token', id: registration!.tokenId },
      outcome: 'ok',
      detail: { role: 'agent', machineId: registration!.machine.id, vaultId: vault!.id, hostname: 'files-01' },
    });
  });

  it('a tenant-admin naming a storage back end is refused, on the record; nothing is created', async () => {
    const record = await recordOf(async () => {
      const answer = await injectAs(f, w.a.tenantAdminToken, 'POST', `/v1/tenants/${w.a.tenantId}/storage-accounts`, { name: 'sneaky', backend: `fs:${f.dataDir}` });
      expectStatus(answer, 403);
    });
    expectRecord(record, {
      actor: await actor(w.a.tenantAdminToken),
      tenantId: w.a.tenantId,
      action: 'storage-account.create',
      target: { type: 'storage-account', id: null },
      outcome: 'refused',
      detail: { name: 'sneaky', backend: `fs:${f.dataDir}` },
    });
    assert.match(String(record.detail.error), /only an admin/);
    const accounts = await f.db.selectFrom('storage_accounts').select('name').where('name', '=', 'sneaky').execute();
    assert.deepEqual(accounts, []);
  });

  it('an import job issues a job token on the record', async () => {
    await injectAs(f, w.adminToken, 'POST', `/v1/import-jobs/${w.jobId}/cancel`);
    let jobId = '';
    const record = await recordOf(async () => {
      const answer = await injectAs(f, w.a.agentToken, 'POST', `/v1/vaults/${w.a.vaultId}/import-jobs`, { name: 'seed-2', storageAccountId: w.a.storageAccountId, container: 'seed-2' });
      expectStatus(answer, 201);
      jobId = answer.json<{ job: { id: string } }>().job.id;
    });
    const token = await f.db.selectFrom('tokens').select('id').where('job_id', '=', jobId).executeTakeFirstOrThrow();
    expectRecord(record, { actor: await actor(w.a.agentToken), tenantId: w.a.tenantId, action: 'token.create', target: { type: 'token', id: token.id }, outcome: 'ok', detail: { role: 'job', jobId, jobName: 'seed-2' } });
  });

  it('disk key released to the operator; a refused release is recorded as refused', async () => {
    await jobIn('Received');
    const disk = diskRegistration(0, w.jobId);
    const operator = await actor(w.operatorToken);
    const released = await recordOf(async () => expectStatus(await injectAs(f, w.operatorToken, 'GET', `/v1/import-jobs/${w.jobId}/disks/0/key?diskId=${disk.diskId}`), 200));
    expectRecord(released, { actor: operator, tenantId: w.a.tenantId, action: 'disk-key.release', target: { type: 'import-job', id: w.jobId }, outcome: 'ok', detail: { diskIndex: 0, diskId: disk.diskId } });
    assert.ok(!JSON.stringify(released).includes(disk.diskKey), 'the key is not in the log');

    const wrongDisk = '00000000-0000-4000-8000-000000000000';
    const refused = await recordOf(async () => expectStatus(await injectAs(f, w.operatorToken, 'GET', `/v1/import-jobs/${w.jobId}/disks/0/key?diskId=${wrongDisk}`), 409));
    expectRecord(refused, { actor: operator, tenantId: w.a.tenantId, action: 'disk-key.release', target: { type: 'import-job', id: w.jobId }, outcome: 'refused', detail: { diskIndex: 0, diskId: wrongDisk } });
  });

  it('job cancelled; a job deleted by the deadline sweep', async () => {
    const jobTokenId = (await principalForSecret(f.ctx, w.jobToken)).tokenId;
    const cancelling = await recordsOf(async () => expectStatus(await injectAs(f, w.a.tenantAdminToken, 'POST', `/v1/import-jobs/${w.jobId}/cancel`), 200));
    assert.deepEqual(actionsOf(cancelling), ['job.cancel', 'token.revoke'], 'the job token dies with the job');
    const cancelled = only(cancelling, 'job.cancel');
    expectRecord(only(cancelling, 'token.revoke'), { actor: await actor(w.a.tenantAdminToken), tenantId: w.a.tenantId, action: 'token.revoke', target: { type: 'token', id: jobTokenId }, outcome: 'ok', detail: { role: 'job', jobId: w.jobId, reason: 'job-ended' } });
    expectRecord(cancelled, { actor: await actor(w.a.tenantAdminToken), tenantId: w.a.tenantId, action: 'job.cancel', target: { type: 'import-job', id: w.jobId }, outcome: 'ok', detail: { stateBefore: 'Creating' } });
    assert.deepEqual(await recordsOf(() => injectAs(f, w.a.tenantAdminToken, 'POST', `/v1/import-jobs/${w.jobId}/cancel`)), [], 'cancelling again changes and records nothing');

    const other = await injectAs(f, w.a.agentToken, 'POST', `/v1/vaults/${w.a.vaultId}/import-jobs`, { name: 'late', storageAccountId: w.a.storageAccountId, container: 'late-seed' });
    const lateId = other.json<{ job: { id: string } }>().job.id;
    await prepareDisks(f, lateId, 1);
    f.clock.advance(f.ctx.importJobs.trackingDeadlineMs);
    const expiring = await recordsOf(() => expireOverdueJobs(storeOf(f)));
    assert.deepEqual(actionsOf(expiring), ['disk-key.destroy', 'job.delete', 'token.revoke'], 'its disk key and job token go with it');
    expectRecord(only(expiring, 'disk-key.destroy'), { actor: 'service:deadline-sweep', tenantId: w.a.tenantId, action: 'disk-key.destroy', target: { type: 'import-job', id: lateId }, outcome: 'ok', detail: { disks: 1, state: 'Deleted' } });
    const deleted = only(expiring, 'job.delete');
    expectRecord(deleted, { actor: 'service:deadline-sweep', tenantId: w.a.tenantId, action: 'job.delete', target: { type: 'import-job', id: lateId }, outcome: 'ok', detail: { name: 'late' } });
  });

  it('adoption requested, done by the worker, and closed', async () => {
    await jobIn('Completed');
    const requested = await recordOf(async () => expectStatus(await injectAs(f, w.a.agentToken, 'POST', `/v1/import-jobs/${w.jobId}/adopt`, { exclude: [] }), 202));
    expectRecord(requested, { actor: await actor(w.a.agentToken), tenantId: w.a.tenantId, action: 'adoption.request', target: { type: 'import-job', id: w.jobId }, outcome: 'ok' });

    assert.equal(await claimAdoption(f.db, 'worker', f.clock.now(), 60_000), w.jobId);
    const done = await recordOf(async () => assert.equal(await runAdoption(f.ctx, w.jobId, { owner: 'worker', leaseMs: 60_000 }), 'adopted'));
    expectRecord(done, { actor: 'service:adoption', tenantId: w.a.tenantId, action: 'adoption.finish', target: { type: 'import-job', id: w.jobId }, outcome: 'ok', detail: { objects: 0 } });

    const closing = await recordsOf(async () => expectStatus(await injectAs(f, w.a.tenantAdminToken, 'POST', `/v1/import-jobs/${w.jobId}/close`, {}), 200));
    assert.deepEqual(actionsOf(closing), ['job.close', 'token.revoke']);
    const closed = only(closing, 'job.close');
    expectRecord(closed, { actor: await actor(w.a.tenantAdminToken), tenantId: w.a.tenantId, action: 'job.close', target: { type: 'import-job', id: w.jobId }, outcome: 'ok', detail: { stateBefore: 'Adopted' } });
  });

  it('an adoption that fails is recorded as failed, with the reason', async () => {
    await jobIn('Completed');
    const job = (await readJob(f.db, w.jobId))!.job;
    const imported = await openImportStorage(f.ctx, job);
    const key = `data/ab/ab${'0'.repeat(62)}`; // named for a hash its bytes do not have
    await imported.save(key, Buffer.from('not what the name says'));
    await imported.close();
    await injectAs(f, w.a.agentToken, 'POST', `/v1/import-jobs/${w.jobId}/adopt`, { exclude: [] });
    await claimAdoption(f.db, 'worker', f.clock.now(), 60_000);
    const failed = await recordOf(async () => assert.equal(await runAdoption(f.ctx, w.jobId, { owner: 'worker', leaseMs: 60_000 }), 'failed'));
    expectRecord(failed, { actor: 'service:adoption', tenantId: w.a.tenantId, action: 'adoption.finish', target: { type: 'import-job', id: w.jobId }, outcome: 'failed' });
    assert.match(String(failed.detail.error), new RegExp(key));
  });

  describe('agent retention', () => {
    /**
     * Stores a new snapshot in tenant A's vault through the agent's object route, reports its scheduled run,
     * then lets `days` pass on the service's clock (retention dates a snapshot by its arrival). Returns its id.
     */
    async function backedUp(seed: number, days: number): Promise<string> {
      const { key, bytes } = shapedObject('snapshot', seed);
      const stored = await f.app.inject({ method: 'PUT', url: `/v1/vaults/${w.a.vaultId}/objects/${key}`, headers: { authorization: `Bearer ${w.a.agentToken}`, 'content-type': 'application/octet-stream' }, payload: bytes });
      assert.equal(stored.statusCode, 201, stored.body);
      const at = new Date(f.clock.now()).toISOString();
      const report = { startedAt: at, finishedAt: at, status: 'succeeded', snapshotId: key.slice('snapshots/'.length), filesProcessed: 1, bytesRead: 1, bytesAdded: 1, trigger: 'scheduled' };
      expectStatus(await injectAs(f, w.a.agentToken, 'POST', `/v1/vaults/${w.a.vaultId}/backup-runs`, report), 201);
      f.clock.advance(days * DAY);
      return key.slice('snapshots/'.length);
    }

    it('the schedule set, and a retention that forgot snapshots lists them; a pass that forgets nothing records nothing', async () => {
      const ids: string[] = [];
      for (let n = 1; n <= 4; n++) ids.push(await backedUp(n, n < 4 ? 10 : 0)); // 30, 20, 10 and 0 days ago
      const agent = await actor(w.a.agentToken);
      const schedule = await recordOf(async () =>
        expectStatus(await injectAs(f, w.a.agentToken, 'PUT', `/v1/vaults/${w.a.vaultId}/schedule`, { daily: '02:30', retention: { keepLast: 2 } }), 200),
      );
      expectRecord(schedule, { actor: agent, tenantId: w.a.tenantId, action: 'schedule.set', target: { type: 'machine', id: w.a.machineId }, outcome: 'ok', detail: { daily: '02:30', retention: '{"keepLast":2}' } });

      const forgot = await recordOf(async () => expectStatus(await injectAs(f, w.a.agentToken, 'POST', `/v1/vaults/${w.a.vaultId}/retention`), 200));
      expectRecord(forgot, {
        actor: agent,
        tenantId: w.a.tenantId,
        action: 'retention.forget',
        target: { type: 'vault', id: w.a.vaultId },
        outcome: 'ok',
        detail: { machineId: w.a.machineId, snapshotIds: [ids[0]!, ids[1]!].sort() },
      });
      assert.deepEqual(await recordsOf(() => injectAs(f, w.a.agentToken, 'POST', `/v1/vaults/${w.a.vaultId}/retention`)), []);
    });

    it('a retention that fails part-way is recorded as failed with what it removed; the next pass finishes and records the rest', async () => {
      const ids: string[] = [];
      for (let n = 1; n <= 3; n++) ids.push(await backedUp(n, 10));
      await injectAs(f, w.a.agentToken, 'PUT', `/v1/vaults/${w.a.vaultId}/schedule`, { daily: '02:30', retention: { keepLast: 1 } });
      const principal = await principalForSecret(f.ctx, w.a.agentToken);
      let faulty: FaultyStorage | undefined;
      const ctx = {
        ...f.ctx,
        openBackend: (location: Parameters<typeof f.ctx.openBackend>[0]) => {
          faulty = new FaultyStorage(f.ctx.openBackend(location));
          faulty.addFault('remove', { keyPrefix: objectKey('snapshot', parseId(ids[1]!)) }).errorInstead(new PermanentError('disk on fire')).times(1);
          return faulty;
        },
      };
      const failed = await recordOf(() => assert.rejects(applyAgentRetention(ctx, principal, w.a.vaultId), /disk on fire/));
      expectRecord(failed, {
        actor: `agent:${principal.tokenId}`,
        tenantId: w.a.tenantId,
        action: 'retention.forget',
        target: { type: 'vault', id: w.a.vaultId },
        outcome: 'failed',
        detail: { snapshotIds: [ids[0]!], notRemoved: [ids[1]!], error: 'disk on fire' },
      });
      const again = await recordOf(() => applyAgentRetention(f.ctx, principal, w.a.vaultId));
      expectRecord(again, { actor: `agent:${principal.tokenId}`, tenantId: w.a.tenantId, action: 'retention.forget', target: { type: 'vault', id: w.a.vaultId }, outcome: 'ok', detail: { snapshotIds: [ids[0]!, ids[1]!] } });
    });
  });

  describe('objects removed from a vault', () => {
    const bytes = Buffer.from('a snapshot object');
    const key = `snapshots/${createHash('sha256').update(bytes).digest('hex')}`;
    const lock = `locks/${createHash('sha256').update('a lock').digest('hex')}`;
    async function store(k: string, data: Buffer): Promise<void> {
      const storage = await openVaultStorage(f.ctx, await getVault(f.ctx, ADMIN, w.a.vaultId));
      await storage.save(k, data);
      await storage.close();
    }

    it('by a tenant-admin: on the record with the key; an agent that tries is refused, on the record; locks are not', async () => {
      await store(key, bytes);
      const refused = await recordOf(async () => expectStatus(await injectAs(f, w.a.agentToken, 'DELETE', `/v1/vaults/${w.a.vaultId}/objects/${key}`), 403));
      expectRecord(refused, { actor: await actor(w.a.agentToken), tenantId: w.a.tenantId, action: 'object.remove', target: { type: 'vault', id: w.a.vaultId }, outcome: 'refused', detail: { key } });

      const removed = await recordOf(async () => expectStatus(await injectAs(f, w.a.tenantAdminToken, 'DELETE', `/v1/vaults/${w.a.vaultId}/objects/${key}`), 204));
      expectRecord(removed, { actor: await actor(w.a.tenantAdminToken), tenantId: w.a.tenantId, action: 'object.remove', target: { type: 'vault', id: w.a.vaultId }, outcome: 'ok', detail: { key } });

      await store(lock, Buffer.from('a lock'));
      assert.deepEqual(await recordsOf(async () => expectStatus(await injectAs(f, w.a.tenantAdminToken, 'DELETE', `/v1/vaults/${w.a.vaultId}/objects/${lock}`), 204)), []);
      assert.deepEqual(await recordsOf(async () => expectStatus(await injectAs(f, w.a.agentToken, 'DELETE', `/v1/vaults/${w.a.vaultId}/objects/${key}`), 204)), [], 'an absent object: nothing removed');
    });
  });
});

describe('GET /v1/audit', () => {
  type Page = { records: AuditRecord[]; nextCursor: string | null };
  const get = async (token: string, query = ''): Promise<Page> => {
    const answer = await injectAs(f, token, 'GET', `/v1/audit${query}`);
    expectStatus(answer, 200);
    return answer.json<Page>();
  };

  it("shows admins everything and each tenant-admin only its tenant's records", async () => {
    expectStatus(await injectAs(f, w.adminToken, 'POST', '/v1/tokens', { role: 'operator' }), 201); // a service-wide act
    const all = (await get(w.adminToken, '?limit=1000')).records;
    const tenants = new Set(all.map((r) => r.tenantId));
    assert.ok(tenants.has(w.a.tenantId) && tenants.has(w.b.tenantId) && tenants.has(null), 'both tenants and service-wide acts');
    const a = (await get(w.a.tenantAdminToken, '?limit=1000')).records;
    const b = (await get(w.b.tenantAdminToken, '?limit=1000')).records;
    assert.ok(a.length > 0 && b.length > 0);
    assert.ok(a.every((r) => r.tenantId === w.a.tenantId));
    assert.ok(b.every((r) => r.tenantId === w.b.tenantId));
    assert.deepEqual(a.map((r) => r.id).sort(), all.filter((r) => r.tenantId === w.a.tenantId).map((r) => r.id).sort());

    // Another tenant by filter: 404 like every record of another tenant; an admin may filter by tenant.
    expectStatus(await injectAs(f, w.a.tenantAdminToken, 'GET', `/v1/audit?tenantId=${w.b.tenantId}`), 404, 'NOT_FOUND');
    assert.deepEqual((await get(w.adminToken, `?tenantId=${w.b.tenantId}&limit=1000`)).records, b);
    for (const token of [w.a.agentToken, w.jobToken, w.operatorToken]) expectStatus(await injectAs(f, token, 'GET', '/v1/audit'), 403);
  });

  it('filters by action and time, pages newest first without gaps or repeats, and refuses a bad cursor', async () => {
    f.clock.advance(60_000);
    const since = new Date(f.clock.now()).toISOString();
    for (let i = 0; i < 5; i++) {
      f.clock.advance(1000);
      expectStatus(await injectAs(f, w.adminToken, 'POST', '/v1/tokens', { role: 'operator' }), 201);
    }
    const recent = (await get(w.adminToken, `?since=${since}`)).records;
    assert.equal(recent.length, 5);
    assert.ok(recent.every((r) => r.action === 'token.create' && r.at >= since));
    assert.deepEqual(recent.map((r) => r.at), [...recent.map((r) => r.at)].sort().reverse(), 'newest first');
    const revocations = (await get(w.adminToken, '?action=token.revoke')).records;
    assert.ok(
      revocations.every((r) => r.detail.reason === 'job-ended'),
      'buildWorld revokes its tokens straight through the store; only its ended job took its job token with it',
    );

    const everything = (await get(w.adminToken, '?limit=1000')).records;
    const walked: AuditRecord[] = [];
    let cursor: string | null = null;
    do {
      const page: Page = await get(w.adminToken, `?limit=3${cursor !== null ? `&cursor=${cursor}` : ''}`);
      assert.ok(page.records.length <= 3);
      walked.push(...page.records);
      cursor = page.nextCursor;
    } while (cursor !== null);
    assert.deepEqual(walked, everything);

    expectStatus(await injectAs(f, w.adminToken, 'GET', '/v1/audit?cursor=bm90LWEtY3Vyc29y'), 400);
    expectStatus(await injectAs(f, w.adminToken, 'GET', '/v1/audit?action=token.steal'), 400);
    expectStatus(await injectAs(f, w.adminToken, 'GET', '/v1/audit?limit=0'), 400);
  });
});
