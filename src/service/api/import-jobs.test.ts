import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { Principal } from '../auth/principal.js';
import { expireOverdueJobs } from '../jobs/deadline-sweep.js';
import type { JobAction } from '../jobs/job-machine.js';
import type { ImportJob } from '../../contract/import-job.js';
import { changeImportJob } from '../jobs/job-store.js';
import type { JobState } from '../../contract/job-states.js';
import { createVault } from '../resources/vaults.js';
import { TEST_ACTOR, diskRegistration, driveJob, prepareDisks, storeOf } from '../testing/import-job-fixtures.js';
import { bearer, expectStatus, injectAs, startServiceFixture, type ServiceFixture } from '../testing/service-fixture.js';
import { buildWorld, type World } from '../testing/world.js';

const DAY_MS = 86_400_000;
const ADMIN: Principal = { tokenId: 'test-admin', role: 'admin', expiresAt: '2100-01-01T00:00:00.000Z' };
const SHIPPING = { carrier: 'UPS', trackingNumber: '1Z 999 AA1 01 2345 6784', returnAddress: 'Acme IT\n1 Main Street\nSpringfield' };

let f: ServiceFixture;
let w: World;
beforeEach(async () => {
  f = await startServiceFixture();
  w = await buildWorld(f);
});
afterEach(() => f.close());

function call(token: string | undefined, method: InjectOptions['method'], url: string, payload?: unknown): Promise<LightMyRequestResponse> {
  return injectAs(f, token, method, url, payload);
}
const jobUrl = (id: string, rest = ''): string => `/v1/import-jobs/${id}${rest}`;
const getJob = async (id: string): Promise<ImportJob> => (await call(w.adminToken, 'GET', jobUrl(id))).json<ImportJob>();

let jobCount = 0;
/** A new job (and vault) in tenant A or B, created through the API by the admin. */
async function newJob(tenant: 'a' | 'b' = 'a', name = `job-${++jobCount}`): Promise<{ id: string; token: string; vaultId: string }> {
  const t = w[tenant];
  const vault = await createVault(f.ctx, ADMIN, t.tenantId, { name: `${name}-vault`, storageAccountId: t.storageAccountId });
  const created = await call(w.adminToken, 'POST', `/v1/vaults/${vault.id}/import-jobs`, { name, storageAccountId: t.storageAccountId, container: `${name}-in` });
  expectStatus(created, 201);
  const body = created.json<{ job: ImportJob; jobToken: string }>();
  return { id: body.job.id, token: body.jobToken, vaultId: vault.id };
}

/** Everything the database holds about a job, to prove that a refused request changed nothing. */
async function snapshot(jobId: string): Promise<unknown> {
  return {
    job: await f.db.selectFrom('import_jobs').selectAll().where('id', '=', jobId).execute(),
    disks: await f.db.selectFrom('job_disks').selectAll().where('job_id', '=', jobId).orderBy('disk_index').execute(),
    events: await f.db.selectFrom('job_events').selectAll().where('job_id', '=', jobId).orderBy('seq').execute(),
  };
}

const act = (jobId: string, action: JobAction): Promise<unknown> => changeImportJob(storeOf(f), jobId, action, TEST_ACTOR);

describe('creating import jobs', () => {
  it('an agent creates one for its own vault: Creating, a job token for it alone (shown once), and the vault shows the seed', async () => {
    expectStatus(await call(w.a.tenantAdminToken, 'POST', jobUrl(w.jobId, '/cancel')), 200);
    const vault = (await call(w.a.agentToken, 'GET', `/v1/vaults/${w.a.vaultId}`)).json<{ seed: unknown }>();
    assert.equal(vault.seed, null, 'a cancelled job is no pending seed');

    const created = await call(w.a.agentToken, 'POST', `/v1/vaults/${w.a.vaultId}/import-jobs`, { name: 'first-seed', storageAccountId: w.a.storageAccountId, container: 'first-seed' });
    expectStatus(created, 201);
    const { job, jobToken } = created.json<{ job: ImportJob; jobToken: string }>();
    assert.match(jobToken, /^fry_job_[A-Za-z0-9_-]{43}$/);
    assert.equal(job.state, 'Creating');
    assert.deepEqual(
      { tenantId: job.tenantId, vaultId: job.vaultId, storageAccountId: job.storageAccountId, container: job.container, disks: job.disks, preparedAt: job.preparedAt, trackingNumber: job.trackingNumber },
      { tenantId: w.a.tenantId, vaultId: w.a.vaultId, storageAccountId: w.a.storageAccountId, container: 'first-seed', disks: [], preparedAt: null, trackingNumber: null },
    );
    assert.deepEqual(job.timeline, [{ at: new Date(f.clock.now()).toISOString(), state: 'Creating', actor: `agent:${w.a.agentTokenId}`, note: 'created' }]);

    const whoami = (await call(jobToken, 'GET', '/v1/whoami')).json<{ role: string; jobId: string; tenantId: string; expiresAt: string }>();
    assert.deepEqual({ role: whoami.role, jobId: whoami.jobId, tenantId: whoami.tenantId }, { role: 'job', jobId: job.id, tenantId: w.a.tenantId });
    assert.equal(Date.parse(whoami.expiresAt) - f.clock.now(), 90 * DAY_MS);
    const seed = (await call(w.a.agentToken, 'GET', `/v1/vaults/${w.a.vaultId}`)).json<{ seed: unknown }>().seed;
    assert.deepEqual(seed, { jobId: job.id, jobName: 'first-seed', state: 'Creating' });
    assert.equal((await call(w.a.tenantAdminToken, 'GET', jobUrl(job.id))).json<ImportJob>().id, job.id);
  });

  it('refuses a second open job for a vault, a name taken in the tenant (ended jobs too), a foreign storage account and a vault container', async () => {
    const body = (name: string, extra: Record<string, unknown> = {}) => ({ name, storageAccountId: w.a.storageAccountId, container: `${name}-in`, ...extra });
    const pending = await call(w.adminToken, 'POST', `/v1/vaults/${w.a.vaultId}/import-jobs`, body('again'));
    expectStatus(pending, 409, 'SEED_PENDING');
    assert.match(pending.json<{ message: string }>().message, /open import job "tenant-a-seed" \(Creating\); finish or cancel it first/);

    const other = await createVault(f.ctx, ADMIN, w.a.tenantId, { name: 'other', storageAccountId: w.a.storageAccountId });
    expectStatus(await call(w.adminToken, 'POST', `/v1/vaults/${other.id}/import-jobs`, body('tenant-a-seed')), 409, 'ALREADY_EXISTS');
    await act(w.jobId, { kind: 'cancel' });
    const ended = await call(w.adminToken, 'POST', `/v1/vaults/${w.a.vaultId}/import-jobs`, body('tenant-a-seed'));
    expectStatus(ended, 409, 'ALREADY_EXISTS');
    assert.match(ended.json<{ message: string }>().message, /already has an import job named "tenant-a-seed"/);

    for (const storageAccountId of [w.b.storageAccountId, '6f1e2a70-0000-4000-8000-000000000001']) {
      const foreign = await call(w.adminToken, 'POST', `/v1/vaults/${w.a.vaultId}/import-jobs`, body('foreign', { storageAccountId }));
      expectStatus(foreign, 400, 'USER');
      assert.match(foreign.json<{ message: string }>().message, /not one of the storage accounts of the vault's tenant/);
    }
    const vaultContainer = (await call(w.adminToken, 'GET', `/v1/vaults/${w.a.vaultId}`)).json<{ container: string }>().container;
    const clash = await call(w.adminToken, 'POST', `/v1/vaults/${w.a.vaultId}/import-jobs`, body('clash', { container: vaultContainer }));
    expectStatus(clash, 409, 'ALREADY_EXISTS');
    assert.match(clash.json<{ message: string }>().message, /holds vault "tenant-a-vault"/);

    for (const bad of [body('Bad Name'), body('ok', { container: 'Upper_Case' }), body('6f1e2a70-0000-4000-8000-000000000001'), body('ok', { extra: 1 }), { name: 'ok' }]) {
      expectStatus(await call(w.adminToken, 'POST', `/v1/vaults/${w.a.vaultId}/import-jobs`, bad), 400, 'INVALID_REQUEST');
    }
    // Names are unique per tenant: tenant B may use A's.
    const inB = await call(w.b.tenantAdminToken, 'POST', `/v1/vaults/${w.b.vaultId}/import-jobs`, { name: 'tenant-a-seed', storageAccountId: w.b.storageAccountId, container: 'seed' });
    expectStatus(inB, 201);
    expectStatus(await call(w.b.tenantAdminToken, 'POST', `/v1/vaults/${w.a.vaultId}/import-jobs`, body('sneaky')), 404, 'NOT_FOUND');
    const created = await call(w.adminToken, 'POST', `/v1/vaults/${w.a.vaultId}/import-jobs`, body('second'));
    expectStatus(created, 201);
  });

  it('gives a vault to exactly one of several jobs created for it at once', async () => {
    await act(w.jobId, { kind: 'cancel' });
    const answers = await Promise.all(
      [1, 2, 3, 4].map((i) => call(w.adminToken, 'POST', `/v1/vaults/${w.a.vaultId}/import-jobs`, { name: `race-${i}`, storageAccountId: w.a.storageAccountId, container: `race-${i}` })),
    );
    assert.deepEqual(answers.map((a) => a.statusCode).sort(), [201, 409, 409, 409]);
    assert.ok(answers.filter((a) => a.statusCode === 409).every((a) => a.json<{ code: string }>().code === 'SEED_PENDING'));
    const open = await f.db.selectFrom('import_jobs').select('id').where('open_vault_id', '=', w.a.vaultId).execute();
    assert.equal(open.length, 1);
    const tokens = await f.db.selectFrom('tokens').select('id').where('role', '=', 'job').where('tenant_id', '=', w.a.tenantId).execute();
    assert.equal(tokens.length, 2, 'the losers issued no job token');
  });

  it('lists a tenant’s jobs and finds jobs by name among those the token may see', async () => {
    await newJob('b', 'tenant-a-seed');
    const listed = (await call(w.a.tenantAdminToken, 'GET', `/v1/tenants/${w.a.tenantId}/import-jobs`)).json<{ jobs: ImportJob[] }>().jobs;
    assert.deepEqual(listed.map((j) => j.name), ['tenant-a-seed']);
    const find = async (token: string, query: string): Promise<string[]> => (await call(token, 'GET', `/v1/import-jobs?${query}`)).json<{ jobs: ImportJob[] }>().jobs.map((j) => j.tenantId);
    assert.deepEqual((await find(w.adminToken, 'name=tenant-a-seed')).sort(), [w.a.tenantId, w.b.tenantId].sort());
    assert.deepEqual(await find(w.operatorToken, `name=tenant-a-seed&tenantId=${w.b.tenantId}`), [w.b.tenantId]);
    assert.deepEqual(await find(w.a.tenantAdminToken, 'name=tenant-a-seed'), [w.a.tenantId]);
    assert.deepEqual(await find(w.a.tenantAdminToken, `tenantId=${w.b.tenantId}`), []);
    assert.deepEqual(await find(w.b.tenantAdminToken, 'name=nothing'), []);
  });
});

describe('disks and the job token', () => {
  it('the job token registers disks of its own job only, escrows their keys and never shows them', async () => {
    const disk0 = diskRegistration(0, 'first');
    const put = await call(w.jobToken, 'PUT', jobUrl(w.jobId, '/disks/0'), disk0);
    expectStatus(put, 200);
    assert.deepEqual(put.json<ImportJob>().disks, [{ id: disk0.diskId, index: 0, state: 'Prepared', bytes: disk0.bytes, files: disk0.files, manifestSha256: disk0.manifestSha256, progress: null }]);
    expectStatus(await call(w.jobToken, 'PUT', jobUrl(w.jobId, '/disks/1'), diskRegistration(1, 'first')), 200);
    const stored = await f.db.selectFrom('job_disks').select(['disk_index', 'id', 'disk_key']).where('job_id', '=', w.jobId).orderBy('disk_index').execute();
    assert.ok(stored.every((d) => d.disk_key !== null && !d.disk_key.includes(disk0.diskKey) && d.disk_key.startsWith('fsk1.')), 'escrowed sealed, never in plain');
    assert.deepEqual(
      stored.map((d) => f.ctx.serviceKey.open(d.disk_key!, d.id).toString('base64')),
      [disk0.diskKey, diskRegistration(1, 'first').diskKey],
    );
    for (const token of [w.adminToken, w.a.tenantAdminToken, w.a.agentToken, w.jobToken, w.operatorToken]) {
      const answer = (await call(token, 'GET', jobUrl(w.jobId))).body;
      assert.ok(!answer.includes(disk0.diskKey) && !answer.includes('diskKey'), 'no answer carries a disk key');
    }

    // A disk prepared again (a resumed diskprep) replaces the earlier one, key and all.
    const again = diskRegistration(0, 'again');
    const replaced = (await call(w.jobToken, 'PUT', jobUrl(w.jobId, '/disks/0'), again)).json<ImportJob>();
    assert.equal(replaced.disks[0]!.id, again.diskId);
    assert.match(replaced.timeline.at(-1)!.note ?? '', /^disk 0 \(id .*\) prepared again, replacing the earlier one$/);
    const sealed = (await f.db.selectFrom('job_disks').select('disk_key').where('id', '=', again.diskId).executeTakeFirstOrThrow()).disk_key!;
    assert.equal(f.ctx.serviceKey.open(sealed, again.diskId).toString('base64'), again.diskKey);

    // One disk id, one disk: not twice in a job, not in two jobs.
    const before = await snapshot(w.jobId);
    expectStatus(await call(w.jobToken, 'PUT', jobUrl(w.jobId, '/disks/2'), { ...diskRegistration(2), diskId: again.diskId }), 409, 'ALREADY_EXISTS');
    const other = await newJob('b');
    expectStatus(await call(other.token, 'PUT', jobUrl(other.id, '/disks/0'), { ...diskRegistration(0), diskId: again.diskId }), 409, 'ALREADY_EXISTS');
    assert.deepEqual(await snapshot(w.jobId), before);

    // Another job's token sees nothing of this job; a job token reaches nothing but its job.
    expectStatus(await call(other.token, 'GET', jobUrl(w.jobId)), 404, 'NOT_FOUND');
    expectStatus(await call(other.token, 'PUT', jobUrl(w.jobId, '/disks/3'), diskRegistration(3)), 404, 'NOT_FOUND');
    expectStatus(await call(other.token, 'POST', jobUrl(w.jobId, '/prepared'), { disks: 2 }), 404, 'NOT_FOUND');
    expectStatus(await call(w.jobToken, 'GET', `/v1/vaults/${w.a.vaultId}`), 403, 'FORBIDDEN');
    expectStatus(await call(w.jobToken, 'GET', `/v1/tenants/${w.a.tenantId}/import-jobs`), 403, 'FORBIDDEN');
    expectStatus(await call(w.jobToken, 'POST', jobUrl(w.jobId, '/shipping'), SHIPPING), 403, 'FORBIDDEN');
    expectStatus(await call(w.jobToken, 'POST', jobUrl(w.jobId, '/cancel')), 403, 'FORBIDDEN');
    expectStatus(await call(w.a.agentToken, 'PUT', jobUrl(w.jobId, '/disks/3'), diskRegistration(3)), 403, 'FORBIDDEN');
    assert.deepEqual(await snapshot(w.jobId), before);
  });

  it('allows at most 10 disks of at most 10 TB each by default, and what the settings say otherwise', async () => {
    const before = await snapshot(w.jobId);
    const tooFar = await call(w.jobToken, 'PUT', jobUrl(w.jobId, '/disks/10'), diskRegistration(10));
    expectStatus(tooFar, 400, 'JOB_LIMIT_EXCEEDED');
    assert.match(tooFar.json<{ message: string }>().message, /at most 10 disks/);
    expectStatus(await call(w.jobToken, 'PUT', jobUrl(w.jobId, '/disks/0'), { ...diskRegistration(0), bytes: 10 * 1000 ** 4 + 1 }), 400, 'JOB_LIMIT_EXCEEDED');
    assert.deepEqual(await snapshot(w.jobId), before, 'nothing stored');
    expectStatus(await call(w.jobToken, 'PUT', jobUrl(w.jobId, '/disks/9'), diskRegistration(9)), 200);
    expectStatus(await call(w.jobToken, 'PUT', jobUrl(w.jobId, '/disks/0'), { ...diskRegistration(0), bytes: 10 * 1000 ** 4 }), 200);
    const invalid = [
      { ...diskRegistration(1), diskKey: Buffer.alloc(31).toString('base64') },
      { ...diskRegistration(1), diskKey: Buffer.alloc(32).toString('base64url') },
      { ...diskRegistration(1), manifestSha256: 'AB'.repeat(32) },
      { ...diskRegistration(1), diskId: 'not-a-uuid' },
      { ...diskRegistration(1), bytes: -1 },
      { ...diskRegistration(1), extra: true },
    ];
    for (const body of invalid) expectStatus(await call(w.jobToken, 'PUT', jobUrl(w.jobId, '/disks/1'), body), 400, 'INVALID_REQUEST');
    expectStatus(await call(w.jobToken, 'PUT', jobUrl(w.jobId, '/disks/x'), diskRegistration(1)), 400, 'INVALID_REQUEST');

    const small = await startServiceFixture({ importJobs: { maxDisksPerJob: 2, maxDiskBytes: 5000 } });
    try {
      const sw = await buildWorld(small);
      const put = (index: number, bytes: number) =>
        small.app.inject({ method: 'PUT', url: jobUrl(sw.jobId, `/disks/${index}`), headers: bearer(sw.jobToken), payload: { ...diskRegistration(index), bytes } });
      assert.equal((await put(1, 5000)).statusCode, 200);
      assert.equal((await put(2, 10)).statusCode, 400);
      assert.equal((await put(0, 5001)).statusCode, 400);
    } finally {
      await small.close();
    }
  });

  it('reporting the disks prepared needs every disk, starts the tracking deadline, answers the shipping address and closes the job to disks', async () => {
    expectStatus(await call(w.jobToken, 'PUT', jobUrl(w.jobId, '/disks/0'), diskRegistration(0)), 200);
    const missing = await call(w.jobToken, 'POST', jobUrl(w.jobId, '/prepared'), { disks: 2 });
    expectStatus(missing, 409, 'ILLEGAL_TRANSITION');
    assert.match(missing.json<{ message: string }>().message, /disk 1 of 2 is not registered yet/);
    expectStatus(await call(w.jobToken, 'PUT', jobUrl(w.jobId, '/disks/1'), diskRegistration(1)), 200);

    const prepared = await call(w.jobToken, 'POST', jobUrl(w.jobId, '/prepared'), { disks: 2 });
    expectStatus(prepared, 200);
    const { job, shippingAddress } = prepared.json<{ job: ImportJob; shippingAddress: string }>();
    assert.equal(job.preparedAt, new Date(f.clock.now()).toISOString());
    assert.equal(job.trackingDeadline, new Date(f.clock.now() + 14 * DAY_MS).toISOString());
    assert.equal(job.state, 'Creating');
    assert.match(shippingAddress, /No shipping address is configured/);
    assert.match(job.timeline.at(-1)!.note ?? '', /^2 disks prepared; carrier and tracking number are due by /);

    // A resumed diskprep reports again: same count, same answer, nothing recorded.
    f.clock.advance(60_000);
    const repeated = (await call(w.jobToken, 'POST', jobUrl(w.jobId, '/prepared'), { disks: 2 })).json<{ job: ImportJob }>().job;
    assert.deepEqual(repeated, job);
    const before = await snapshot(w.jobId);
    expectStatus(await call(w.jobToken, 'POST', jobUrl(w.jobId, '/prepared'), { disks: 3 }), 409, 'ILLEGAL_TRANSITION');
    const late = await call(w.jobToken, 'PUT', jobUrl(w.jobId, '/disks/0'), diskRegistration(0, 'late'));
    expectStatus(late, 409, 'ILLEGAL_TRANSITION');
    assert.match(late.json<{ message: string }>().message, /were reported complete at/);
    assert.deepEqual(await snapshot(w.jobId), before);

    const custom = await startServiceFixture({ importJobs: { shippingAddress: 'Ferry DC\nDock 7' } });
    try {
      const cw = await buildWorld(custom);
      await prepareDisks(custom, cw.jobId, 1, false);
      const answer = await custom.app.inject({ method: 'POST', url: jobUrl(cw.jobId, '/prepared'), headers: bearer(cw.jobToken), payload: { disks: 1 } });
      assert.equal(answer.json<{ shippingAddress: string }>().shippingAddress, 'Ferry DC\nDock 7');
    } finally {
      await custom.close();
    }
  });
});

describe('replacing a disk', () => {
  it('the job token puts a new disk in place of one that has not arrived; the old disk is refused from then on', async () => {
    await prepareDisks(f, w.jobId, 2);
    await driveJob(f, w.jobId, 'Shipping');
    const old = (await getJob(w.jobId)).disks[1]!;
    const fresh = { ...diskRegistration(1, 'replacement'), replaces: old.id };

    expectStatus(await call(w.jobToken, 'PUT', jobUrl(w.jobId, '/disks/1/replacement'), { ...fresh, replaces: (await getJob(w.jobId)).disks[0]!.id }), 409, 'DISK_ID_MISMATCH');
    const replaced = await call(w.jobToken, 'PUT', jobUrl(w.jobId, '/disks/1/replacement'), fresh);
    expectStatus(replaced, 200);
    const job = replaced.json<ImportJob>();
    assert.equal(job.state, 'Shipping');
    assert.deepEqual(job.disks[1], { id: fresh.diskId, index: 1, state: 'Prepared', bytes: fresh.bytes, files: fresh.files, manifestSha256: fresh.manifestSha256, progress: null });
    assert.match(job.timeline.at(-1)!.note ?? '', new RegExp(`disk 1 \\(id ${old.id}\\) replaced by a new disk \\(id ${fresh.diskId}`));
    const escrowed = await f.db.selectFrom('job_disks').select(['id', 'disk_key']).where('job_id', '=', w.jobId).where('disk_index', '=', 1).executeTakeFirstOrThrow();
    assert.equal(f.ctx.serviceKey.open(escrowed.disk_key!, escrowed.id).toString('base64'), fresh.diskKey, 'the new key is escrowed in place of the old one');

    // At the datacenter the old disk does not get a key. A disk that arrived but could not be ingested (its
    // key fetched, its manifest refused) may still be replaced; once its ingest has started it may not.
    expectStatus(await call(w.operatorToken, 'POST', jobUrl(w.jobId, '/receive'), {}), 200);
    expectStatus(await call(w.operatorToken, 'GET', jobUrl(w.jobId, `/disks/1/key?diskId=${old.id}`)), 409, 'DISK_ID_MISMATCH');
    expectStatus(await call(w.operatorToken, 'GET', jobUrl(w.jobId, `/disks/1/key?diskId=${fresh.diskId}`)), 200);
    assert.equal((await getJob(w.jobId)).disks[1]!.state, 'Received');
    const third = { ...diskRegistration(1, 'third'), replaces: fresh.diskId };
    expectStatus(await call(w.jobToken, 'PUT', jobUrl(w.jobId, '/disks/1/replacement'), third), 200);
    expectStatus(await call(w.operatorToken, 'POST', jobUrl(w.jobId, '/disks/1/ingest'), { diskId: third.diskId, manifestSha256: third.manifestSha256 }), 200);
    const before = await snapshot(w.jobId);
    const late = await call(w.jobToken, 'PUT', jobUrl(w.jobId, '/disks/1/replacement'), { ...diskRegistration(1, 'fourth'), replaces: third.diskId });
    expectStatus(late, 409, 'ILLEGAL_TRANSITION');
    assert.match(late.json<{ message: string }>().message, /disk 1 is Transferring: its ingest has started, so it cannot be replaced/);
    assert.deepEqual(await snapshot(w.jobId), before);
    expectStatus(await call(w.a.tenantAdminToken, 'PUT', jobUrl(w.jobId, '/disks/0/replacement'), { ...diskRegistration(0, 'admin'), replaces: job.disks[0]!.id }), 403);
  });
});

describe('shipping information', () => {
  it('moves a prepared job to Shipping, and may be changed until the job is received', async () => {
    const early = await call(w.a.tenantAdminToken, 'POST', jobUrl(w.jobId, '/shipping'), SHIPPING);
    expectStatus(early, 409, 'ILLEGAL_TRANSITION');
    assert.match(early.json<{ message: string }>().message, /not prepared yet: run ferry diskprep first/);
    await prepareDisks(f, w.jobId, 2);

    const shipped = await call(w.a.tenantAdminToken, 'POST', jobUrl(w.jobId, '/shipping'), { ...SHIPPING, carrier: '  UPS  ' });
    expectStatus(shipped, 200);
    const job = shipped.json<ImportJob>();
    assert.deepEqual({ state: job.state, carrier: job.carrier, trackingNumber: job.trackingNumber, returnAddress: job.returnAddress }, { state: 'Shipping', ...SHIPPING });
    const tenantAdminTokenId = (await call(w.a.tenantAdminToken, 'GET', '/v1/whoami')).json<{ tokenId: string }>().tokenId;
    assert.deepEqual(job.timeline.at(-1), { at: new Date(f.clock.now()).toISOString(), state: 'Shipping', actor: `tenant-admin:${tenantAdminTokenId}`, note: `shipped with UPS, tracking number ${SHIPPING.trackingNumber}` });

    const edited = (await call(w.a.agentToken, 'POST', jobUrl(w.jobId, '/shipping'), { ...SHIPPING, trackingNumber: '1Z 999 AA1 01 2345 6785' })).json<ImportJob>();
    assert.equal(edited.trackingNumber, '1Z 999 AA1 01 2345 6785');
    assert.equal(edited.timeline.length, job.timeline.length + 1);
    assert.match(edited.timeline.at(-1)!.note ?? '', /^shipping information changed to UPS/);
    const same = (await call(w.adminToken, 'POST', jobUrl(w.jobId, '/shipping'), { ...SHIPPING, trackingNumber: '1Z 999 AA1 01 2345 6785' })).json<ImportJob>();
    assert.equal(same.timeline.length, edited.timeline.length, 'the same information again records nothing');

    await act(w.jobId, { kind: 'receive' });
    const before = await snapshot(w.jobId);
    const afterReceipt = await call(w.a.tenantAdminToken, 'POST', jobUrl(w.jobId, '/shipping'), SHIPPING);
    expectStatus(afterReceipt, 409, 'ILLEGAL_TRANSITION');
    assert.match(afterReceipt.json<{ message: string }>().message, /shipping information can be changed only until the job is received/);
    assert.deepEqual(await snapshot(w.jobId), before);

    for (const trackingNumber of ['', '   ', 'ü123', 'x'.repeat(65), '1Z\t99', '--']) {
      expectStatus(await call(w.adminToken, 'POST', jobUrl(w.jobId, '/shipping'), { ...SHIPPING, trackingNumber }), 400, 'INVALID_REQUEST');
    }
    expectStatus(await call(w.adminToken, 'POST', jobUrl(w.jobId, '/shipping'), { ...SHIPPING, carrier: 'U\u0007PS' }), 400, 'INVALID_REQUEST');
    expectStatus(await call(w.adminToken, 'POST', jobUrl(w.jobId, '/shipping'), { carrier: 'UPS', trackingNumber: '1Z' }), 400, 'INVALID_REQUEST');
  });

  it('refuses a tracking number another job has, compared ignoring case, spaces, hyphens and dots, across tenants, and changes nothing', async () => {
    await prepareDisks(f, w.jobId, 1);
    expectStatus(await call(w.a.tenantAdminToken, 'POST', jobUrl(w.jobId, '/shipping'), SHIPPING), 200);
    const other = await newJob('b');
    await prepareDisks(f, other.id, 1);
    const before = await snapshot(other.id);
    for (const variant of ['1Z 999 AA1 01 2345 6784', '1z999aa10123456784', ' 1Z999 AA1 0123 456784 ', '1z 9 9 9 a a 1 0 1 2 3 4 5 6 7 8 4', '1Z999AA1-01-2345-6784', '1z.999.aa1.01.2345.6784']) {
      const refused = await call(w.b.tenantAdminToken, 'POST', jobUrl(other.id, '/shipping'), { ...SHIPPING, trackingNumber: variant });
      expectStatus(refused, 409, 'TRACKING_NUMBER_IN_USE');
      assert.match(refused.json<{ message: string }>().message, /is already used by another import job \(tracking numbers are compared ignoring case, spaces, hyphens and dots\)/);
    }
    assert.deepEqual(await snapshot(other.id), before, 'a refused tracking number changes nothing');
    // The job that has it may write it differently.
    expectStatus(await call(w.adminToken, 'POST', jobUrl(w.jobId, '/shipping'), { ...SHIPPING, trackingNumber: '1z999aa10123456784' }), 200);
    // A cancelled job keeps its tracking number: a parcel is one job's.
    expectStatus(await call(w.adminToken, 'POST', jobUrl(w.jobId, '/cancel')), 200);
    expectStatus(await call(w.b.tenantAdminToken, 'POST', jobUrl(other.id, '/shipping'), SHIPPING), 409, 'TRACKING_NUMBER_IN_USE');
    expectStatus(await call(w.b.tenantAdminToken, 'POST', jobUrl(other.id, '/shipping'), { ...SHIPPING, trackingNumber: 'JD014600006281' }), 200);
  });

  it('gives a tracking number to exactly one of several jobs racing for it', async () => {
    const jobs = await Promise.all([1, 2, 3, 4, 5].map(() => newJob('a')));
    for (const job of jobs) await prepareDisks(f, job.id, 1);
    const spellings = ['JD 0146 0000 1', 'jd014600001', 'Jd01460000 1', 'JD0146 00001', 'jd 0146 00001'];
    const answers = await Promise.all(jobs.map((job, i) => call(w.adminToken, 'POST', jobUrl(job.id, '/shipping'), { ...SHIPPING, trackingNumber: spellings[i] })));
    assert.deepEqual(answers.map((a) => a.statusCode).sort(), [200, 409, 409, 409, 409]);
    const holders = await f.db.selectFrom('import_jobs').select('id').where('tracking_number_key', '=', 'JD014600001').execute();
    assert.equal(holders.length, 1);
  });
});

describe('cancelling', () => {
  it('works only before the job is received, and frees the vault for a new job', async () => {
    const cancelled = await call(w.a.agentToken, 'POST', jobUrl(w.jobId, '/cancel'));
    expectStatus(cancelled, 200);
    assert.equal(cancelled.json<ImportJob>().state, 'Cancelled');
    assert.equal((await call(w.adminToken, 'GET', `/v1/vaults/${w.a.vaultId}`)).json<{ seed: unknown }>().seed, null);
    const again = await call(w.a.agentToken, 'POST', jobUrl(w.jobId, '/cancel'));
    expectStatus(again, 409, 'ILLEGAL_TRANSITION');
    assert.match(again.json<{ message: string }>().message, /cannot cancel a job that is Cancelled: the job has ended/);
    expectStatus(await call(w.a.agentToken, 'POST', `/v1/vaults/${w.a.vaultId}/import-jobs`, { name: 'retry', storageAccountId: w.a.storageAccountId, container: 'retry' }), 201);

    const shipping = await newJob();
    await prepareDisks(f, shipping.id, 1);
    await act(shipping.id, { kind: 'ship', shipping: { ...SHIPPING, trackingNumber: 'SHIP1' } });
    expectStatus(await call(w.a.tenantAdminToken, 'POST', jobUrl(shipping.id, '/cancel')), 200);

    const received = await newJob();
    await prepareDisks(f, received.id, 1);
    await act(received.id, { kind: 'ship', shipping: { ...SHIPPING, trackingNumber: 'SHIP2' } });
    await act(received.id, { kind: 'receive' });
    const before = await snapshot(received.id);
    const late = await call(w.adminToken, 'POST', jobUrl(received.id, '/cancel'));
    expectStatus(late, 409, 'ILLEGAL_TRANSITION');
    assert.match(late.json<{ message: string }>().message, /a job can be cancelled only before it is received/);
    assert.deepEqual(await snapshot(received.id), before);
  });
});

/** The states a job can be driven into for the exhaustive check; "Prepared" is Creating with its disks reported. */
type TestState = JobState | 'Prepared';
const TEST_STATES: readonly TestState[] = ['Creating', 'Prepared', 'Shipping', 'Received', 'Transferring', 'Completed', 'CompletedWithErrors', 'Adopted', 'Closed', 'Deleted', 'Cancelled', 'Failed'];
/** What each HTTP action must answer in each state (docs/service.md); 200 means it is allowed. */
/** The job token of an ended job is refused before any rule is asked (auth/token-store.ts). */
const ENDED_STATES: readonly string[] = ['Closed', 'Deleted', 'Cancelled', 'Failed'];
const HTTP_EXPECT: Readonly<Record<TestState, Readonly<Record<'disk' | 'prepared' | 'ship' | 'cancel', number | string>>>> = Object.fromEntries(
  TEST_STATES.map((state) => [
    state,
    {
      disk: state === 'Creating' ? 200 : ENDED_STATES.includes(state) ? '401 JOB_ENDED' : 'ILLEGAL_TRANSITION',
      prepared: state === 'Creating' || state === 'Prepared' ? 200 : ENDED_STATES.includes(state) ? '401 JOB_ENDED' : 'ILLEGAL_TRANSITION',
      ship: state === 'Prepared' || state === 'Shipping' ? 200 : state === 'Deleted' ? 'JOB_EXPIRED' : 'ILLEGAL_TRANSITION',
      cancel: ['Creating', 'Prepared', 'Shipping'].includes(state) ? 200 : 'ILLEGAL_TRANSITION',
    },
  ]),
) as never;

describe('the state machine over HTTP', () => {
  it('every state × every action: the allowed ones succeed, the others answer 409 (a job token of an ended job 401) and change nothing', async () => {
    let tracking = 0;
    const failures: string[] = [];
    for (const state of TEST_STATES) {
      for (const [action, want] of Object.entries(HTTP_EXPECT[state])) {
        const job = await newJob();
        await prepareDisks(f, job.id, 1, state !== 'Creating');
        if (state === 'Deleted') {
          f.clock.advance(14 * DAY_MS);
          await act(job.id, { kind: 'expire' });
        } else if (state === 'Cancelled') {
          await driveJob(f, job.id, 'Shipping', `PATH${++tracking}`);
          await act(job.id, { kind: 'cancel' });
        } else if (state !== 'Creating' && state !== 'Prepared') {
          await driveJob(f, job.id, state, `PATH${++tracking}`);
        }
        assert.equal((await getJob(job.id)).state, state === 'Prepared' ? 'Creating' : state);
        const before = await snapshot(job.id);
        const response =
          action === 'disk'
            ? await call(job.token, 'PUT', jobUrl(job.id, '/disks/1'), diskRegistration(1, job.id))
            : action === 'prepared'
              ? await call(job.token, 'POST', jobUrl(job.id, '/prepared'), { disks: 1 })
              : action === 'ship'
                ? await call(w.a.tenantAdminToken, 'POST', jobUrl(job.id, '/shipping'), { ...SHIPPING, trackingNumber: `NEW${++tracking}` })
                : await call(w.a.tenantAdminToken, 'POST', jobUrl(job.id, '/cancel'));
        const got = response.statusCode === 200 ? 200 : `${response.statusCode} ${response.json<{ code: string }>().code}`;
        if (got !== (want === 200 ? 200 : typeof want === 'string' && want.startsWith('401 ') ? want : `409 ${want}`)) failures.push(`${state} × ${action}: got ${got}, expected ${want}`);
        if (response.statusCode !== 200) {
          const after = await snapshot(job.id);
          if (JSON.stringify(after) !== JSON.stringify(before)) failures.push(`${state} × ${action}: refused but changed the job`);
        }
      }
    }
    assert.deepEqual(failures, []);
  });
});

describe('the tracking deadline', () => {
  it('the sweep deletes a prepared job without tracking number at its deadline, once, with an event, and leaves the others', async () => {
    const short = await startServiceFixture({ importJobs: { trackingDeadlineMs: 60_000 } });
    try {
      const sw = await buildWorld(short);
      const store = storeOf(short);
      const job = async (name: string): Promise<string> => {
        const vault = await createVault(short.ctx, ADMIN, sw.a.tenantId, { name, storageAccountId: sw.a.storageAccountId });
        const created = await short.app.inject({ method: 'POST', url: `/v1/vaults/${vault.id}/import-jobs`, headers: bearer(sw.adminToken), payload: { name, storageAccountId: sw.a.storageAccountId, container: `${name}-in` } });
        return created.json<{ job: ImportJob }>().job.id;
      };
      const overdue = sw.jobId;
      await prepareDisks(short, overdue, 2);
      const shipped = await job('shipped');
      await prepareDisks(short, shipped, 1);
      await changeImportJob(store, shipped, { kind: 'ship', shipping: SHIPPING }, TEST_ACTOR);
      const unprepared = await job('unprepared');
      await prepareDisks(short, unprepared, 1, false);
      short.clock.advance(30_000);
      const later = await job('later');
      await prepareDisks(short, later, 1);
      const read = async (id: string): Promise<ImportJob> => (await short.app.inject({ method: 'GET', url: jobUrl(id), headers: bearer(sw.adminToken) })).json<ImportJob>();
      const others = async (): Promise<ImportJob[]> => Promise.all([shipped, unprepared, later].map(read));
      const othersBefore = await others();

      short.clock.advance(29_999);
      assert.deepEqual(await expireOverdueJobs(store), []);
      assert.equal((await read(overdue)).state, 'Creating');

      short.clock.advance(1);
      assert.deepEqual((await expireOverdueJobs(store)).map((j) => j.id), [overdue]);
      const deleted = await read(overdue);
      assert.equal(deleted.state, 'Deleted');
      assert.deepEqual(deleted.timeline.at(-1), {
        at: new Date(short.clock.now()).toISOString(),
        state: 'Deleted',
        actor: 'service:deadline-sweep',
        note: `no carrier and tracking number by the tracking deadline ${deleted.trackingDeadline}: deleted; its disks will be refused`,
      });
      assert.deepEqual(await others(), othersBefore);
      assert.equal((await short.app.inject({ method: 'GET', url: `/v1/vaults/${sw.a.vaultId}`, headers: bearer(sw.adminToken) })).json<{ seed: unknown }>().seed, null);
      assert.deepEqual(await expireOverdueJobs(store), [], 'a second sweep finds nothing');

      const expired = await short.app.inject({ method: 'POST', url: jobUrl(overdue, '/shipping'), headers: bearer(sw.adminToken), payload: SHIPPING });
      assert.equal(expired.statusCode, 409);
      assert.equal(expired.json<{ code: string }>().code, 'JOB_EXPIRED');

      // Past its deadline and not yet swept: shipping is refused too, and the job stays as it is until the sweep.
      short.clock.advance(30_000);
      const lateBefore = await read(later);
      const tooLate = await short.app.inject({ method: 'POST', url: jobUrl(later, '/shipping'), headers: bearer(sw.adminToken), payload: { ...SHIPPING, trackingNumber: 'LATE1' } });
      assert.equal(tooLate.json<{ code: string }>().code, 'JOB_EXPIRED');
      assert.deepEqual(await read(later), lateBefore);
      // Two sweeps at once (as two instances would run them): the job is deleted once.
      const [one, two] = await Promise.all([expireOverdueJobs(store), expireOverdueJobs(store)]);
      assert.deepEqual([...one, ...two].map((j) => j.id), [later]);
      assert.equal((await read(later)).timeline.filter((e) => e.state === 'Deleted').length, 1);

      const metrics = await short.app.inject({ method: 'GET', url: '/metrics', headers: bearer(sw.adminToken) });
      assert.match(metrics.body, /^ferry_import_jobs\{state="Deleted"\} 2$/m);
      assert.match(metrics.body, /^ferry_import_jobs\{state="Shipping"\} 1$/m);
      assert.match(metrics.body, /^ferry_import_jobs\{state="Creating"\} 1$/m);
    } finally {
      await short.close();
    }
  });
});
