import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UserError } from '../core/errors.js';
import { startServiceFixture, type ServiceFixture } from '../service/testing/service-fixture.js';
import { diskRegistration } from '../service/testing/import-job-fixtures.js';
import { buildWorld, type World } from '../service/testing/world.js';
import { parseLifetime, parseListen } from './option-parsers.js';
import { ServiceClient, ServiceRequestError, serviceUrl } from './service-client.js';
import type { CliContext } from './context.js';
import { readCredentialsFile, writeCredentialsFile } from './vault-credentials-file.js';

describe('service client', () => {
  let f: ServiceFixture;
  let w: World;
  let url: string;
  before(async () => {
    f = await startServiceFixture();
    w = await buildWorld(f);
    await f.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(f.app.server.address() as AddressInfo).port}`;
  });
  after(() => f.close());

  it('takes --server/--token before FERRY_SERVER/FERRY_TOKEN and checks the URL', () => {
    assert.equal(serviceUrl({ FERRY_SERVER: 'http://env:1/' }, {}), 'http://env:1');
    assert.equal(serviceUrl({ FERRY_SERVER: 'http://env:1' }, { server: 'https://opt.example/' }), 'https://opt.example');
    assert.throws(() => serviceUrl({}, {}), /pass --server URL or set FERRY_SERVER/);
    assert.throws(() => serviceUrl({}, { server: 'ftp://x' }), UserError);
    assert.throws(() => serviceUrl({}, { server: 'http://user:pw@x' }), /may not carry credentials/);
    assert.throws(() => serviceUrl({}, { server: 'http://x/?token=1' }), /may not carry credentials/);
    assert.throws(() => ServiceClient.fromOptions({ env: { FERRY_SERVER: url }, globalOptions: {} } as unknown as CliContext, {}), /pass --token TOKEN or set FERRY_TOKEN/);
  });

  it('turns error answers into one-line errors that keep the status and the service’s code', async () => {
    const cases: [string, () => Promise<unknown>, number, string, RegExp][] = [
      ['bad token', () => new ServiceClient(url, 'fry_adm_nope').listTenants(), 401, 'UNAUTHENTICATED', /^the service refused the token: .*check FERRY_TOKEN or --token/],
      ['wrong role', () => new ServiceClient(url, w.a.agentToken).listTenants(), 403, 'FORBIDDEN', /^not allowed: a agent token may not GET/],
      ['other tenant', () => new ServiceClient(url, w.b.tenantAdminToken).getVault(w.a.vaultId), 404, 'NOT_FOUND', /^not found: vault .* not found$/],
      ['duplicate', () => new ServiceClient(url, w.adminToken).createTenant('tenant-a'), 409, 'ALREADY_EXISTS', /already exists/],
    ];
    for (const [what, run, status, code, message] of cases) {
      await assert.rejects(run(), (err) => {
        assert.ok(err instanceof ServiceRequestError, what);
        assert.equal(err.status, status, what);
        assert.equal(err.code, code, what);
        assert.match(err.message, message, what);
        assert.ok(!err.message.includes('\n'), 'one line');
        return true;
      });
    }
    assert.equal((await new ServiceClient(url, w.adminToken).listTenants()).length, 2);
  });

  it('drives an import job: created by the agent, disks and report with the job token, shipped, found by name, cancelled', async () => {
    const admin = new ServiceClient(url, w.adminToken);
    const agent = new ServiceClient(url, w.a.agentToken);
    await admin.cancelImportJob(w.jobId);
    const { job, jobToken } = await agent.createImportJob(w.a.vaultId, { name: 'client-seed', storageAccountId: w.a.storageAccountId, container: 'client-seed' });
    assert.deepEqual((await agent.getVault(w.a.vaultId)).seed, { jobId: job.id, jobName: 'client-seed', state: 'Creating' });
    const copier = new ServiceClient(url, jobToken);
    const disk = diskRegistration(0, 'client');
    assert.deepEqual((await copier.registerJobDisk(job.id, 0, disk)).disks.map((d) => d.id), [disk.diskId]);
    const prepared = await copier.markJobPrepared(job.id, 1);
    assert.equal(typeof prepared.shippingAddress, 'string');
    assert.notEqual(prepared.job.preparedAt, null);
    await assert.rejects(copier.registerJobDisk(job.id, 1, diskRegistration(1, 'client')), (err) => err instanceof ServiceRequestError && err.status === 409 && err.code === 'ILLEGAL_TRANSITION');
    const shipped = await agent.shipImportJob(job.id, { carrier: 'UPS', trackingNumber: 'CLIENT 1', returnAddress: 'Acme' });
    assert.equal(shipped.state, 'Shipping');
    assert.deepEqual((await admin.findImportJobs({ name: 'client-seed' })).map((j) => j.id), [job.id]);
    assert.deepEqual((await admin.findImportJobs({ name: 'client-seed', tenantId: w.b.tenantId })).map((j) => j.id), []);
    assert.deepEqual((await admin.listImportJobs(w.a.tenantId)).map((j) => j.name), ['tenant-a-seed', 'client-seed']);
    assert.equal((await copier.getImportJob(job.id)).state, 'Shipping');
    assert.equal((await agent.cancelImportJob(job.id)).state, 'Cancelled');
  });

  it('says so when nothing listens at the URL', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    await assert.rejects(new ServiceClient(`http://127.0.0.1:${port}`, 'x').listTenants(), /connection refused; is `ferry serve` running there\?/);
  });
});

describe('option parsers', () => {
  it('parse --listen HOST:PORT', () => {
    assert.deepEqual(parseListen('127.0.0.1:8420'), { host: '127.0.0.1', port: 8420 });
    assert.deepEqual(parseListen('0.0.0.0:0'), { host: '0.0.0.0', port: 0 });
    assert.deepEqual(parseListen('[::1]:9000'), { host: '::1', port: 9000 });
    assert.deepEqual(parseListen('localhost:80'), { host: 'localhost', port: 80 });
    for (const bad of ['8420', '127.0.0.1', '127.0.0.1:65536', ':80', '::1:80', 'host:port']) assert.throws(() => parseListen(bad), bad);
  });

  it('parse --expires durations into seconds', () => {
    assert.equal(parseLifetime('12h'), 43_200);
    assert.equal(parseLifetime('30d'), 30 * 86_400);
    assert.equal(parseLifetime('8w'), 56 * 86_400);
    assert.equal(parseLifetime('1y'), 365 * 86_400);
    for (const bad of ['0d', '30', 'd', '1m', '1.5d', '-1d', '1d2h']) assert.throws(() => parseLifetime(bad), bad);
  });
});

describe('vault credentials file', () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), 'ferry-cred-'))));
  after(() => rm(dir, { recursive: true, force: true }));
  const contents = {
    server: 'http://127.0.0.1:8420',
    tenant: { id: 't', name: 'acme' },
    vault: { id: 'v', name: 'files' },
    registrationCode: 'fry_reg_' + 'a'.repeat(43),
    expiresAt: '2026-11-27T12:00:00.000Z',
    caFingerprint: Array.from({ length: 32 }, (_, i) => i.toString(16).padStart(2, '0').toUpperCase()).join(':'),
  };

  it('carries the pinned fingerprint when there is one; a file without it (plain HTTP, older files) is read, a malformed one refused', async () => {
    const path = join(dir, 'pin.json');
    const { caFingerprint, ...unpinned } = contents;
    await writeFile(path, JSON.stringify({ format: 'ferry-vault-credentials', version: 1, ...unpinned }));
    assert.equal((await readCredentialsFile(path)).caFingerprint, undefined);
    await writeCredentialsFile(path, async () => unpinned);
    assert.equal((await readCredentialsFile(path)).caFingerprint, null);
    await writeFile(path, JSON.stringify({ format: 'ferry-vault-credentials', version: 1, ...contents, caFingerprint: caFingerprint.toLowerCase().slice(3) }));
    await assert.rejects(readCredentialsFile(path), /not a valid vault credentials file: expected a SHA-256 fingerprint/);
  });

  it('is written 0600 with format and version, and read back', async () => {
    const path = join(dir, 'c.json');
    await writeFile(path, 'old');
    const written = await writeCredentialsFile(path, async () => contents);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual(await readCredentialsFile(path), { format: 'ferry-vault-credentials', version: 1, ...contents });
    assert.equal(written.path, path);
  });

  it('fails before asking the service when the folder does not exist, and leaves nothing when the service fails', async () => {
    let asked = false;
    await assert.rejects(
      writeCredentialsFile(join(dir, 'missing', 'c.json'), async () => {
        asked = true;
        return contents;
      }),
      /cannot write/,
    );
    assert.equal(asked, false);
    const before = await readdir(dir);
    await assert.rejects(writeCredentialsFile(join(dir, 'never.json'), () => Promise.reject(new UserError('service said no'))), /service said no/);
    assert.deepEqual(await readdir(dir), before);
  });

  it('refuses files that are not credentials', async () => {
    const path = join(dir, 'bad.json');
    await writeFile(path, JSON.stringify({ format: 'something-else' }));
    await assert.rejects(readCredentialsFile(path), /not a valid vault credentials file/);
    await writeFile(path, 'not json');
    await assert.rejects(readCredentialsFile(path), /not JSON/);
  });
});
