import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ferry, ferryOk, lastJson, makeTempDir, type TempDir } from './harness.js';
import { startServe, type ServeProcess } from './service-harness.js';

interface Created {
  id: string;
  name: string;
}

describe('ferry serve and the service commands, end to end through bin/ferry', () => {
  let tmp: TempDir;
  let dataDir: string;
  let serve: ServeProcess | undefined;
  let adminToken: string;

  before(async () => {
    tmp = await makeTempDir('ferry-e2e-service-');
    dataDir = join(tmp.path, 'service');
    serve = await startServe(dataDir);
    adminToken = (await readFile(join(dataDir, 'admin.token'), 'utf8')).trim();
  });
  after(async () => {
    await serve?.stop('SIGKILL');
    await tmp.cleanup();
  });

  const as = (token: string) => ({ env: { FERRY_SERVER: serve!.url, FERRY_TOKEN: token } });

  it('serves tenants, storage accounts, vaults, credentials and tokens to the CLI, and keeps tenants apart', async () => {
    // The line follows the URL line, which is all startServe waits for: give it a moment under load.
    for (let waited = 0; !/First start/.test(serve!.output().stdout) && waited < 10_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    assert.match(serve!.output().stdout, /First start: an admin token was written to .*admin\.token/);
    assert.equal((await stat(join(dataDir, 'admin.token'))).mode & 0o777, 0o600);
    assert.match(adminToken, /^fry_adm_[A-Za-z0-9_-]{43}$/);
    assert.equal((await fetch(`${serve!.url}/healthz`)).status, 200);

    const acme = lastJson<Created>((await ferryOk(['tenant', 'create', 'acme', '--json'], as(adminToken))).stdout);
    const globex = lastJson<Created>((await ferryOk(['tenant', 'create', 'globex', '--json'], as(adminToken))).stdout);
    assert.equal(acme.name, 'acme');
    const account = lastJson<Created>((await ferryOk(['storage-account', 'create', 'files', '--tenant', 'acme', '--json'], as(adminToken))).stdout);
    const vault = lastJson<Created & { storageAccountId: string }>(
      (await ferryOk(['vault', 'create', 'fileserver', '--tenant', 'acme', '--storage-account', 'files', '--json'], as(adminToken))).stdout,
    );
    assert.equal(vault.storageAccountId, account.id);

    const credentialsFile = join(tmp.path, 'fileserver.credentials.json');
    const credentialsOut = lastJson<{ file: string; vault: Created; expiresAt: string }>(
      (await ferryOk(['vault', 'credentials', 'fileserver', '--tenant', acme.id, '--out', credentialsFile, '--json'], as(adminToken))).stdout,
    );
    assert.equal(credentialsOut.file, credentialsFile);
    assert.equal((await stat(credentialsFile)).mode & 0o777, 0o600);
    const credentials = JSON.parse(await readFile(credentialsFile, 'utf8')) as Record<string, unknown>;
    assert.equal(credentials.format, 'ferry-vault-credentials');
    assert.equal(credentials.version, 1);
    assert.equal(credentials.server, serve!.url);
    assert.deepEqual(credentials.vault, { id: vault.id, name: 'fileserver' });
    assert.deepEqual(credentials.tenant, { id: acme.id, name: 'acme' });
    assert.match(String(credentials.registrationCode), /^fry_reg_/);
    assert.ok(!JSON.stringify(credentialsOut).includes('fry_reg_'), 'the code is not printed');
    const hours = (Date.parse(String(credentials.expiresAt)) - Date.now()) / 3_600_000;
    assert.ok(hours > 47.9 && hours <= 48, `expires in 48 h (${hours})`);

    const acmeAdmin = lastJson<{ token: string; id: string; role: string }>(
      (await ferryOk(['token', 'create', '--role', 'tenant-admin', '--tenant', 'acme', '--expires', '30d', '--json'], as(adminToken))).stdout,
    );
    const globexAdmin = lastJson<{ token: string; id: string }>(
      (await ferryOk(['token', 'create', '--role', 'tenant-admin', '--tenant', 'globex', '--json'], as(adminToken))).stdout,
    );
    assert.match(acmeAdmin.token, /^fry_ten_/);

    // A tenant-admin needs no --tenant: its token names the tenant.
    const acmeVaults = lastJson<Created[]>((await ferryOk(['vault', 'list', '--json'], as(acmeAdmin.token))).stdout);
    assert.deepEqual(acmeVaults.map((v) => v.name), ['fileserver']);

    // Another tenant's admin: 404 for the vault, by the API and through the CLI.
    const probe = await fetch(`${serve!.url}/v1/vaults/${vault.id}`, { headers: { authorization: `Bearer ${globexAdmin.token}` } });
    assert.equal(probe.status, 404);
    const foreign = await ferry(['vault', 'credentials', vault.id, '--out', join(tmp.path, 'stolen.json')], as(globexAdmin.token));
    assert.equal(foreign.code, 1);
    assert.match(foreign.stderr, /^ferry: not found: vault .* not found\n$/);
    await assert.rejects(stat(join(tmp.path, 'stolen.json')));
    const byName = await ferry(['vault', 'list', '--tenant', 'acme'], as(globexAdmin.token));
    assert.equal(byName.code, 1);
    assert.match(byName.stderr, /no tenant "acme" that this token may see/);
    const globexTenants = lastJson<Created[]>((await ferryOk(['tenant', 'list', '--json'], as(globexAdmin.token))).stdout);
    assert.deepEqual(globexTenants.map((t) => t.id), [globex.id]);

    // The registration code works once.
    const register = () =>
      fetch(`${serve!.url}/v1/registrations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ code: credentials.registrationCode, hostname: 'fileserver-01' }),
      });
    assert.equal((await register()).status, 201);
    assert.equal((await register()).status, 401);

    // Revoked tokens stop working at once.
    const revoked = lastJson<{ id: string; revokedAt: string }>((await ferryOk(['token', 'revoke', acmeAdmin.id, '--json'], as(adminToken))).stdout);
    assert.equal(revoked.id, acmeAdmin.id);
    assert.ok(revoked.revokedAt);
    const refused = await ferry(['tenant', 'list'], as(acmeAdmin.token));
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^ferry: the service refused the token: this tenant-admin token was revoked at \S+: ask for a new one\n$/);

    // A role that may not: one clear line.
    const forbidden = await ferry(['tenant', 'create', 'sneaky'], as(globexAdmin.token));
    assert.equal(forbidden.code, 1);
    assert.match(forbidden.stderr, /^ferry: not allowed: a tenant-admin token may not POST \/v1\/tenants\n$/);

    // A token in the URL is refused and never logged.
    assert.equal((await fetch(`${serve!.url}/v1/tenants?access_token=${adminToken}`)).status, 400);
    const log = serve!.output().stderr;
    assert.match(log, /"msg":"incoming request"/);
    for (const secret of [adminToken, acmeAdmin.token, globexAdmin.token, String(credentials.registrationCode)]) {
      assert.ok(!log.includes(secret.slice(8)), 'a secret reached the service log');
    }
  });

  it('stops on SIGTERM with exit 0, keeps its data, and the CLI says when nothing listens', async () => {
    const stopped = await serve!.stop('SIGTERM');
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(stopped.stdout, /Stopping: waiting for running requests to finish\nStopped\n$/);
    const down = await ferry(['tenant', 'list'], as(adminToken));
    assert.equal(down.code, 1);
    assert.match(down.stderr, /^ferry: cannot reach the Ferry service at .*connection refused; is `ferry serve` running there\?/);

    serve = await startServe(dataDir);
    assert.doesNotMatch(serve.output().stdout, /admin token was written/);
    const tenants = lastJson<Created[]>((await ferryOk(['tenant', 'list', '--json'], as(adminToken))).stdout);
    assert.deepEqual(tenants.map((t) => t.name), ['acme', 'globex']);
    const interrupted = await serve.stop('SIGINT');
    assert.equal(interrupted.code, 0);
    serve = undefined;
  });
});
