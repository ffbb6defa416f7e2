import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { UserError } from '../core/errors.js';
import type { IssuedToken } from '../service/auth/token-store.js';
import { ManualClock, startServiceFixture, type ServiceFixture } from '../service/testing/service-fixture.js';
import { buildWorld, type World } from '../service/testing/world.js';
import { readRegistration, writeRegistration, type AgentRegistration } from './agent-state.js';
import { RENEWAL_LOCK_FILE, activeRegistration, renewalDue, type AgentTokenDeps } from './agent-token.js';

const DAY_MS = 86_400_000;

describe('renewalDue', () => {
  const registration = (issued: string, expires: string, registered = '2026-01-01T00:00:00.000Z'): AgentRegistration => ({
    format: 'ferry-agent',
    version: 1,
    server: 'http://127.0.0.1:1',
    tenant: { id: 't', name: 't' },
    vault: { id: 'v', name: 'v' },
    machine: { id: 'm', hostname: 'h' },
    token: 'fry_agt_x',
    tokenExpiresAt: expires,
    ...(issued !== '' ? { tokenIssuedAt: issued } : {}),
    registeredAt: registered,
  });
  const cases: [string, AgentRegistration, string, boolean][] = [
    ['two thirds of 30 days have not passed', registration('2026-01-01T00:00:00.000Z', '2026-01-31T00:00:00.000Z'), '2026-01-20T23:59:59.000Z', false],
    ['the last third has begun', registration('2026-01-01T00:00:00.000Z', '2026-01-31T00:00:00.000Z'), '2026-01-21T00:00:00.000Z', true],
    ['expired (the service decides; still due)', registration('2026-01-01T00:00:00.000Z', '2026-01-31T00:00:00.000Z'), '2026-02-01T00:00:00.000Z', true],
    ['no tokenIssuedAt: counted from the registration', registration('', '2026-01-04T00:00:00.000Z'), '2026-01-03T00:00:00.000Z', true],
    ['no tokenIssuedAt, early', registration('', '2026-01-04T00:00:00.000Z'), '2026-01-02T23:00:00.000Z', false],
  ];
  for (const [name, reg, now, due] of cases) {
    it(name, () => assert.equal(renewalDue(reg, Date.parse(now)), due));
  }
});

describe('the agent token on the machine', () => {
  let f: ServiceFixture;
  let w: World;
  let url: string;
  let dir: string;
  let deps: AgentTokenDeps;
  let clock: ManualClock;
  let stderr: string;

  beforeEach(async () => {
    f = await startServiceFixture({ agentTokenLifetimeMs: 30 * DAY_MS });
    w = await buildWorld(f);
    await f.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(f.app.server.address() as AddressInfo).port}`;
    dir = await mkdtemp(join(tmpdir(), 'ferry-agent-token-'));
    clock = new ManualClock(f.clock.now());
    stderr = '';
    const err = new PassThrough();
    err.on('data', (d: Buffer) => (stderr += d.toString()));
    deps = { env: { FERRY_STATE_DIR: dir }, clock, stderr: err, globalOptions: {} };
    const row = await f.db.selectFrom('tokens').select(['created_at', 'expires_at']).where('id', '=', w.a.agentTokenId).executeTakeFirstOrThrow();
    await writeRegistration(deps.env, {
      format: 'ferry-agent',
      version: 1,
      server: url,
      tenant: { id: w.a.tenantId, name: w.a.tenantName },
      vault: { id: w.a.vaultId, name: 'tenant-a-vault' },
      machine: { id: w.a.machineId, hostname: 'tenant-a-host' },
      token: w.a.agentToken,
      tokenExpiresAt: row.expires_at,
      registeredAt: row.created_at,
    });
  });
  afterEach(async () => {
    await f.close();
    await rm(dir, { recursive: true, force: true });
  });

  const stored = async (): Promise<AgentRegistration> => (await readRegistration(deps.env))!;
  const status = async (token: string): Promise<string> => {
    const response = await fetch(`${url}/v1/whoami`, { headers: { authorization: `Bearer ${token}` } });
    return response.ok ? 'ok' : ((await response.json()) as { code: string }).code;
  };
  const activeAgentTokens = async (): Promise<number> =>
    (await f.db.selectFrom('tokens').select('id').where('machine_id', '=', w.a.machineId).where('revoked_at', 'is', null).execute()).length;
  /** Moves both clocks (the service's and the machine's) by `ms`. */
  const advance = (ms: number): void => {
    f.clock.advance(ms);
    clock.advance(ms);
  };

  it('leaves a token alone before the last third of its lifetime', async () => {
    advance(19 * DAY_MS);
    const registration = await activeRegistration(deps);
    assert.equal(registration.token, w.a.agentToken);
    assert.equal(stderr, '');
  });

  it('renews in the last third: the new token is stored and confirmed, the old one refused', async () => {
    advance(21 * DAY_MS);
    const registration = await activeRegistration(deps);
    assert.notEqual(registration.token, w.a.agentToken);
    assert.deepEqual(await stored(), registration);
    assert.equal(registration.renewalPending, undefined);
    assert.equal(Date.parse(registration.tokenExpiresAt), f.clock.now() + 30 * DAY_MS);
    assert.equal(registration.tokenIssuedAt, new Date(f.clock.now()).toISOString());
    assert.equal(await status(w.a.agentToken), 'TOKEN_RENEWED');
    assert.equal(await status(registration.token), 'ok');
    assert.match(stderr, /renewed this machine's agent token/);
    assert.equal(await activeAgentTokens(), 1);
    // Renewed tokens renew again, in their own last third.
    advance(19 * DAY_MS);
    assert.equal((await activeRegistration(deps)).token, registration.token);
    advance(2 * DAY_MS);
    assert.notEqual((await activeRegistration(deps)).token, registration.token);
  });

  it('a crash after the new token was stored: the next command confirms, and the old token is revoked then', async () => {
    advance(21 * DAY_MS);
    const renewed = (await (await fetch(`${url}/v1/tokens/renew`, { method: 'POST', headers: { authorization: `Bearer ${w.a.agentToken}` } })).json()) as IssuedToken;
    await writeRegistration(deps.env, { ...(await stored()), token: renewed.token, tokenIssuedAt: renewed.createdAt, tokenExpiresAt: renewed.expiresAt, renewalPending: true });
    assert.equal(await status(w.a.agentToken), 'ok', 'until the confirmation, the old token works');

    const registration = await activeRegistration(deps);
    assert.equal(registration.token, renewed.token);
    assert.equal((await stored()).renewalPending, undefined);
    assert.equal(await status(w.a.agentToken), 'TOKEN_RENEWED');
    assert.equal(await activeAgentTokens(), 1);
  });

  it('a crash before the new token was stored: the old one still works, the next renewal replaces the lost one', async () => {
    advance(21 * DAY_MS);
    const lost = (await (await fetch(`${url}/v1/tokens/renew`, { method: 'POST', headers: { authorization: `Bearer ${w.a.agentToken}` } })).json()) as IssuedToken;
    assert.equal((await stored()).token, w.a.agentToken);

    const registration = await activeRegistration(deps);
    assert.notEqual(registration.token, lost.token);
    assert.equal(await status(lost.token), 'TOKEN_RENEWED', 'the lost renewal is superseded');
    assert.equal(await status(w.a.agentToken), 'TOKEN_RENEWED');
    assert.equal(await activeAgentTokens(), 1);
  });

  it('a revoked token ends the command with one line saying to register again', async () => {
    await f.db.updateTable('tokens').set({ revoked_at: new Date(f.clock.now()).toISOString(), revoked_reason: 'revoked' }).where('id', '=', w.a.agentTokenId).execute();
    await assert.rejects(activeRegistration(deps), (err) => err instanceof UserError && /agent token was revoked at .*register this machine again/.test(err.message) && !err.message.includes('\n'));
  });

  it('a token renewed elsewhere (agent.json still holds it) is reported as copied', async () => {
    const renewed = (await (await fetch(`${url}/v1/tokens/renew`, { method: 'POST', headers: { authorization: `Bearer ${w.a.agentToken}` } })).json()) as IssuedToken;
    await fetch(`${url}/v1/tokens/renew/confirm`, { method: 'POST', headers: { authorization: `Bearer ${renewed.token}` } });
    await assert.rejects(activeRegistration(deps), (err) => err instanceof UserError && /renewal that this machine did not make, so someone else has a copy of it/.test(err.message));
  });

  it('an unreachable service is no error: the registration is used as it is', async () => {
    await writeRegistration(deps.env, { ...(await stored()), server: 'http://127.0.0.1:9' });
    advance(21 * DAY_MS);
    assert.equal((await activeRegistration(deps)).token, w.a.agentToken);
  });

  it('takes over the renewal lock of a process that is gone', async () => {
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    await writeFile(join(dir, RENEWAL_LOCK_FILE), `${gone}\n`);
    advance(21 * DAY_MS);
    assert.notEqual((await activeRegistration(deps)).token, w.a.agentToken);
    await assert.rejects(readFile(join(dir, RENEWAL_LOCK_FILE)), { code: 'ENOENT' }, 'the lock is released');
  });
});
