import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { Principal } from '../auth/principal.js';
import type { IssuedToken, TokenListing } from '../auth/token-store.js';
import { expireOverdueJobs } from '../jobs/deadline-sweep.js';
import type { ImportJob } from '../../contract/import-job.js';
import { changeImportJob } from '../jobs/job-store.js';
import { createVault } from '../resources/vaults.js';
import { TEST_ACTOR, driveJob, prepareDisks, storeOf, type DrivenState } from '../testing/import-job-fixtures.js';
import { expectStatus, injectAs, startServiceFixture, type ServiceFixture } from '../testing/service-fixture.js';
import { buildWorld, type World } from '../testing/world.js';

const DAY_MS = 86_400_000;
const ADMIN: Principal = { tokenId: 'test-admin', role: 'admin', expiresAt: '2100-01-01T00:00:00.000Z' };

let f: ServiceFixture;
let w: World;
beforeEach(async () => {
  f = await startServiceFixture({ agentTokenLifetimeMs: 30 * DAY_MS });
  w = await buildWorld(f);
});
afterEach(() => f.close());

function call(token: string | undefined, method: InjectOptions['method'], url: string, payload?: unknown): Promise<LightMyRequestResponse> {
  return injectAs(f, token, method, url, payload);
}
const message = (response: LightMyRequestResponse): string => response.json<{ message: string }>().message;
const tokenRow = (id: string) => f.db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

let jobCount = 0;
/** A new job (and vault) of tenant A, created through the API by the admin, with its job token. */
async function newJob(): Promise<{ id: string; token: string; tokenId: string }> {
  const name = `life-${++jobCount}`;
  const vault = await createVault(f.ctx, ADMIN, w.a.tenantId, { name: `${name}-vault`, storageAccountId: w.a.storageAccountId });
  const created = await call(w.adminToken, 'POST', `/v1/vaults/${vault.id}/import-jobs`, { name, storageAccountId: w.a.storageAccountId, container: `${name}-in` });
  expectStatus(created, 201);
  const body = created.json<{ job: ImportJob; jobToken: string }>();
  expectStatus(await call(body.jobToken, 'GET', `/v1/import-jobs/${body.job.id}`), 200);
  const row = await f.db.selectFrom('tokens').select('id').where('job_id', '=', body.job.id).executeTakeFirstOrThrow();
  return { id: body.job.id, token: body.jobToken, tokenId: row.id };
}

describe('job tokens die with their job', () => {
  it('Cancelled: revoked in the cancel’s transaction; the job token is told its job was Cancelled', async () => {
    const job = await newJob();
    expectStatus(await call(w.adminToken, 'POST', `/v1/import-jobs/${job.id}/cancel`), 200);
    const row = await tokenRow(job.tokenId);
    assert.equal(row.revoked_reason, 'job-ended');
    const cancelledAt = (await f.db.selectFrom('import_jobs').select('updated_at').where('id', '=', job.id).executeTakeFirstOrThrow()).updated_at;
    assert.equal(row.revoked_at, cancelledAt, 'revoked at the very time of the transition');
    const refused = await call(job.token, 'GET', `/v1/import-jobs/${job.id}`);
    expectStatus(refused, 401, 'JOB_ENDED');
    assert.match(message(refused), /job token's job "life-\d+" was Cancelled/);
    expectStatus(await call(job.token, 'PUT', `/v1/import-jobs/${job.id}/disks/0`, {}), 401, 'JOB_ENDED');
  });

  it('Deleted by the tracking deadline sweep', async () => {
    const job = await newJob();
    await prepareDisks(f, job.id, 1);
    f.clock.advance(f.ctx.importJobs.trackingDeadlineMs);
    assert.equal((await expireOverdueJobs(storeOf(f))).length, 1);
    const refused = await call(job.token, 'GET', '/v1/whoami');
    expectStatus(refused, 401, 'JOB_ENDED');
    assert.match(message(refused), /was Deleted/);
  });

  const ends: DrivenState[] = ['Closed', 'Failed'];
  for (const state of ends) {
    it(`${state}: the job token dies; until then (Adopted included) it works`, async () => {
      const job = await newJob();
      await prepareDisks(f, job.id, 1);
      if (state === 'Closed') {
        await driveJob(f, job.id, 'Adopted');
        expectStatus(await call(job.token, 'GET', `/v1/import-jobs/${job.id}`), 200);
        await changeImportJob(storeOf(f), job.id, { kind: 'close' }, TEST_ACTOR);
      } else {
        await driveJob(f, job.id, state);
      }
      assert.equal((await tokenRow(job.tokenId)).revoked_reason, 'job-ended');
      const refused = await call(job.token, 'GET', `/v1/import-jobs/${job.id}`);
      expectStatus(refused, 401, 'JOB_ENDED');
      assert.match(message(refused), new RegExp(`was ${state}`));
    });
  }

  it('are refused from the job’s state even when nothing revoked them (defence in depth)', async () => {
    const job = await newJob();
    expectStatus(await call(w.adminToken, 'POST', `/v1/import-jobs/${job.id}/cancel`), 200);
    await f.db.updateTable('tokens').set({ revoked_at: null, revoked_reason: null }).where('id', '=', job.tokenId).execute();
    const refused = await call(job.token, 'GET', '/v1/whoami');
    expectStatus(refused, 401, 'JOB_ENDED');
    assert.match(message(refused), /was Cancelled/);
  });
});

describe('agent token renewal', () => {
  const renew = (token: string) => call(token, 'POST', '/v1/tokens/renew');
  const confirm = (token: string) => call(token, 'POST', '/v1/tokens/renew/confirm');

  it('gives a new token for the same machine and vault; the old one works until the new one confirms, then is refused', async () => {
    const answer = await renew(w.a.agentToken);
    expectStatus(answer, 201);
    const renewed = answer.json<IssuedToken>();
    assert.match(renewed.token, /^fry_agt_/);
    assert.equal(renewed.replacesTokenId, w.a.agentTokenId);
    assert.equal(Date.parse(renewed.expiresAt) - Date.parse(renewed.createdAt), 30 * DAY_MS, "the service's agent token lifetime");
    const me = (await call(renewed.token, 'GET', '/v1/whoami')).json<Principal>();
    assert.deepEqual([me.role, me.tenantId, me.machineId, me.vaultId], ['agent', w.a.tenantId, w.a.machineId, w.a.vaultId]);
    // Before the confirmation both work: an agent that crashed before storing the new token loses nothing.
    expectStatus(await call(w.a.agentToken, 'GET', `/v1/vaults/${w.a.vaultId}`), 200);

    const confirmed = await confirm(renewed.token);
    expectStatus(confirmed, 200);
    assert.deepEqual(confirmed.json(), { revokedTokenIds: [w.a.agentTokenId] });
    const refused = await call(w.a.agentToken, 'GET', `/v1/vaults/${w.a.vaultId}`);
    expectStatus(refused, 401, 'TOKEN_RENEWED');
    assert.match(message(refused), /replaced .* by a renewal/);
    expectStatus(await call(renewed.token, 'GET', `/v1/vaults/${w.a.vaultId}`), 200);
    // Idempotent: a repeated confirmation (the answer was lost) revokes nothing more.
    assert.deepEqual((await confirm(renewed.token)).json(), { revokedTokenIds: [] });
    assert.equal((await tokenRow(w.a.agentTokenId)).revoked_reason, 'renewed');
  });

  it('a second renewal before any confirmation supersedes the first (whose secret was lost)', async () => {
    const first = (await renew(w.a.agentToken)).json<IssuedToken>();
    const second = (await renew(w.a.agentToken)).json<IssuedToken>();
    expectStatus(await call(first.token, 'GET', '/v1/whoami'), 401, 'TOKEN_RENEWED');
    expectStatus(await confirm(second.token), 200);
    expectStatus(await call(w.a.agentToken, 'GET', '/v1/whoami'), 401, 'TOKEN_RENEWED');
    expectStatus(await call(second.token, 'GET', '/v1/whoami'), 200);
  });

  it('works until the old token expires, not after: an expired agent token must register again', async () => {
    const agent = await f.token({ role: 'agent', tenantId: w.a.tenantId, machineId: w.a.machineId, vaultId: w.a.vaultId, lifetimeMs: 60_000 });
    f.clock.advance(60_000);
    const refused = await renew(agent.token);
    expectStatus(refused, 401, 'TOKEN_EXPIRED');
    assert.match(message(refused), /register this machine again/);
  });

  it('a confirmation by a token that replaces nothing revokes nothing', async () => {
    assert.deepEqual((await confirm(w.b.agentToken)).json(), { revokedTokenIds: [] });
    expectStatus(await call(w.b.agentToken, 'GET', '/v1/whoami'), 200);
  });
});

describe('token list and revoke cover every role', () => {
  const list = async (token: string): Promise<TokenListing[]> => {
    const answer = await call(token, 'GET', '/v1/tokens');
    expectStatus(answer, 200);
    return answer.json<{ tokens: TokenListing[] }>().tokens;
  };

  it('an admin sees every role with names and states; a tenant-admin its tenant’s agent, job and tenant-admin tokens only', async () => {
    const all = await list(w.adminToken);
    assert.deepEqual([...new Set(all.map((t) => t.role))].sort(), ['admin', 'agent', 'job', 'operator', 'tenant-admin']);
    const agent = all.find((t) => t.id === w.a.agentTokenId)!;
    assert.deepEqual([agent.state, agent.tenantName, agent.machineName, agent.vaultName], ['active', 'tenant-a', 'tenant-a-host', 'tenant-a-vault']);
    const job = all.find((t) => t.role === 'job' && t.jobName === w.jobName)!;
    assert.equal(job.state, 'active');
    assert.equal(all.find((t) => t.jobName === 'tenant-b-seed')?.revokedReason, null, 'the world undid this revocation');
    assert.ok(all.some((t) => t.state === 'expired') && all.some((t) => t.state === 'revoked'));

    const mine = await list(w.a.tenantAdminToken);
    assert.ok(mine.every((t) => t.tenantId === w.a.tenantId));
    assert.deepEqual([...new Set(mine.map((t) => t.role))].sort(), ['agent', 'job', 'tenant-admin']);
  });

  it('a tenant-admin revokes its tenant’s agent and job tokens; the agent is told to register again', async () => {
    const job = (await list(w.a.tenantAdminToken)).find((t) => t.role === 'job' && t.jobName === w.jobName)!;
    const revokedJob = await call(w.a.tenantAdminToken, 'DELETE', `/v1/tokens/${job.id}`);
    expectStatus(revokedJob, 200);
    assert.deepEqual([revokedJob.json<TokenListing>().state, revokedJob.json<TokenListing>().revokedReason], ['revoked', 'revoked']);
    expectStatus(await call(w.jobToken, 'GET', '/v1/whoami'), 401, 'TOKEN_REVOKED');

    const revokedAgent = await call(w.a.tenantAdminToken, 'DELETE', `/v1/tokens/${w.a.agentTokenId}`);
    expectStatus(revokedAgent, 200);
    assert.equal(revokedAgent.json<TokenListing>().machineName, 'tenant-a-host');
    const refused = await call(w.a.agentToken, 'GET', `/v1/vaults/${w.a.vaultId}`);
    expectStatus(refused, 401, 'TOKEN_REVOKED');
    assert.match(message(refused), /agent token was revoked at .*: register this machine again/);
    // Another tenant's tokens, and operator tokens (no tenant), are not the tenant-admin's to revoke.
    expectStatus(await call(w.a.tenantAdminToken, 'DELETE', `/v1/tokens/${(await list(w.b.tenantAdminToken)).find((t) => t.role === 'agent')!.id}`), 404);
    const operator = (await list(w.adminToken)).find((t) => t.role === 'operator')!;
    expectStatus(await call(w.a.tenantAdminToken, 'DELETE', `/v1/tokens/${operator.id}`), 404);
    expectStatus(await call(w.adminToken, 'DELETE', `/v1/tokens/${operator.id}`), 200);
    expectStatus(await call(w.operatorToken, 'GET', '/v1/whoami'), 401, 'TOKEN_REVOKED');
  });
});
