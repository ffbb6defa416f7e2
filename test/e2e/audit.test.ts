import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ferry, ferryOk, lastJson, makeTempDir, type TempDir } from './harness.js';
import { startServe, type ServeProcess } from './service-harness.js';

interface Record {
  id: string;
  at: string;
  actor: string;
  tenantId: string | null;
  action: string;
  target: { type: string; id: string | null };
  outcome: string;
  detail: { [key: string]: unknown };
}

describe('ferry audit list, end to end through bin/ferry against ferry serve', () => {
  let tmp: TempDir;
  let serve: ServeProcess | undefined;
  let adminToken: string;

  before(async () => {
    tmp = await makeTempDir('ferry-e2e-audit-');
    const dataDir = join(tmp.path, 'service');
    serve = await startServe(dataDir);
    adminToken = (await readFile(join(dataDir, 'admin.token'), 'utf8')).trim();
  });
  after(async () => {
    await serve?.stop('SIGKILL');
    await tmp.cleanup();
  });

  const as = (token: string) => ({ env: { FERRY_SERVER: serve!.url, FERRY_TOKEN: token } });
  const audit = async (token: string, args: string[] = []): Promise<Record[]> => lastJson<Record[]>((await ferryOk(['audit', 'list', '--json', ...args], as(token))).stdout);

  it('records a token created and revoked; admins see every tenant, a tenant-admin only its own', async () => {
    const acme = lastJson<{ id: string }>((await ferryOk(['tenant', 'create', 'acme', '--json'], as(adminToken))).stdout);
    const globex = lastJson<{ id: string }>((await ferryOk(['tenant', 'create', 'globex', '--json'], as(adminToken))).stdout);
    const acmeAdmin = lastJson<{ id: string; token: string }>((await ferryOk(['token', 'create', '--role', 'tenant-admin', '--tenant', 'acme', '--json'], as(adminToken))).stdout);
    const globexAdmin = lastJson<{ id: string; token: string }>((await ferryOk(['token', 'create', '--role', 'tenant-admin', '--tenant', 'globex', '--json'], as(adminToken))).stdout);

    // The acme tenant-admin creates a token and revokes it.
    const extra = lastJson<{ id: string }>((await ferryOk(['token', 'create', '--role', 'tenant-admin', '--json'], as(acmeAdmin.token))).stdout);
    await ferryOk(['token', 'revoke', extra.id], as(acmeAdmin.token));

    const all = await audit(adminToken);
    const about = (id: string) => all.filter((r) => r.target.id === id).map((r) => ({ action: r.action, actor: r.actor, tenantId: r.tenantId, outcome: r.outcome }));
    const acmeActor = `tenant-admin:${acmeAdmin.id}`;
    assert.deepEqual(about(extra.id), [
      { action: 'token.revoke', actor: acmeActor, tenantId: acme.id, outcome: 'ok' },
      { action: 'token.create', actor: acmeActor, tenantId: acme.id, outcome: 'ok' },
    ], 'newest first');
    assert.ok(all.some((r) => r.action === 'token.create' && r.actor === 'service:first-start' && r.tenantId === null), 'the first admin token');
    assert.ok(all.some((r) => r.action === 'tenant.create' && r.tenantId === globex.id));
    assert.ok(all.every((r) => !JSON.stringify(r).includes('fry_')), 'no secret in the log');

    const acmeSees = await audit(acmeAdmin.token);
    assert.ok(acmeSees.length >= 4, 'tenant, two token creations, a revocation');
    assert.ok(acmeSees.every((r) => r.tenantId === acme.id));
    assert.deepEqual(acmeSees.map((r) => r.id), all.filter((r) => r.tenantId === acme.id).map((r) => r.id));
    const globexSees = await audit(globexAdmin.token);
    assert.ok(globexSees.length > 0 && globexSees.every((r) => r.tenantId === globex.id));
    assert.ok(!globexSees.some((r) => r.target.id === extra.id));

    // Filters and the table.
    assert.deepEqual((await audit(adminToken, ['--action', 'token.revoke'])).map((r) => r.target.id), [extra.id]);
    assert.equal((await audit(adminToken, ['--limit', '1'])).length, 1);
    assert.deepEqual((await audit(adminToken, ['--since', '1h'])).map((r) => r.id), all.map((r) => r.id));
    assert.deepEqual(await audit(adminToken, ['--since', '2999-01-01T00:00:00Z']), []);
    assert.deepEqual((await audit(adminToken, ['--tenant', 'globex'])).map((r) => r.id), globexSees.map((r) => r.id));
    const table = (await ferryOk(['audit', 'list', '--action', 'token.revoke'], as(acmeAdmin.token))).stdout.split('\n');
    assert.match(table[0]!, /^Time\s+Actor\s+Action\s+Target\s+Outcome\s+Detail$/);
    assert.match(table[1]!, new RegExp(`${acmeActor}\\s+token\\.revoke\\s+token ${extra.id}\\s+ok\\s+role=tenant-admin`));

    // What may not: one line each, exit non-zero.
    const badSince = await ferry(['audit', 'list', '--since', 'yesterday'], as(adminToken));
    assert.notEqual(badSince.code, 0);
    assert.match(badSince.stderr, /^error: option '--since <WHEN>' argument 'yesterday' is invalid\. expected an ISO time/);
    const operator = lastJson<{ token: string }>((await ferryOk(['token', 'create', '--role', 'operator', '--json'], as(adminToken))).stdout);
    const refused = await ferry(['audit', 'list'], as(operator.token));
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^ferry: not allowed: an? operator token may not GET \/v1\/audit\n$/);
  });
});
