import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ImportJob } from '../contract/import-job.js';
import { HttpStorage } from '../storage/http/http-storage.js';
import { startService, type RunningService } from './serve.js';

const sha = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

describe('ferry serve: an import job from receipt to close over HTTP', () => {
  let dir: string;
  let service: RunningService;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-import-flow-'));
    service = await startService({ dataDir: dir, host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await service.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function api<T>(token: string, method: string, path: string, body?: unknown, status = 200): Promise<T> {
    const response = await fetch(`${service.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    assert.equal(response.status, status, `${method} ${path}: ${text}`);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  it('the operator ingests through HttpStorage, the worker of the running service adopts, the agent closes', async () => {
    const admin = (await readFile(join(dir, 'admin.token'), 'utf8')).trim();
    const tenant = await api<{ id: string }>(admin, 'POST', '/v1/tenants', { name: 'acme' }, 201);
    const account = await api<{ id: string }>(admin, 'POST', `/v1/tenants/${tenant.id}/storage-accounts`, { name: 'main' }, 201);
    const vault = await api<{ id: string }>(admin, 'POST', `/v1/tenants/${tenant.id}/vaults`, { name: 'laptop', storageAccountId: account.id }, 201);
    const { registrationCode } = await api<{ registrationCode: string }>(admin, 'POST', `/v1/vaults/${vault.id}/credentials`, undefined, 201);
    const agent = (await api<{ token: string }>(admin, 'POST', '/v1/registrations', { code: registrationCode, hostname: 'laptop' }, 201)).token;
    const operator = (await api<{ token: string }>(admin, 'POST', '/v1/tokens', { role: 'operator' }, 201)).token;
    const created = await api<{ job: ImportJob; jobToken: string }>(agent, 'POST', `/v1/vaults/${vault.id}/import-jobs`, { name: 'seed', storageAccount: 'main', container: 'seed-in' }, 201);
    const jobId = created.job.id;
    const diskId = '0b7c3d1e-5f6a-4b8c-9d0e-1f2a3b4c5d6e';
    const manifestSha256 = sha(Buffer.from('manifest'));
    await api(created.jobToken, 'PUT', `/v1/import-jobs/${jobId}/disks/0`, { diskId, bytes: 1000, files: 3, manifestSha256, diskKey: Buffer.alloc(32, 7).toString('base64') });
    await api(created.jobToken, 'POST', `/v1/import-jobs/${jobId}/prepared`, { disks: 1 });
    await api(agent, 'POST', `/v1/import-jobs/${jobId}/shipping`, { carrier: 'UPS', trackingNumber: 'FLOW 1', returnAddress: 'Acme' });

    await api(operator, 'POST', `/v1/import-jobs/${jobId}/receive`);
    await api(operator, 'GET', `/v1/import-jobs/${jobId}/disks/0/key?diskId=${diskId}`);
    await api(operator, 'POST', `/v1/import-jobs/${jobId}/disks/0/ingest`, { diskId, manifestSha256 });
    const files = ['pack one', 'an index', 'a snapshot'].map((text) => Buffer.from(text.repeat(100)));
    const keys = [`data/${sha(files[0]!).slice(0, 2)}/${sha(files[0]!)}`, `index/${sha(files[1]!)}`, `snapshots/${sha(files[2]!)}`];
    const imports = new HttpStorage({ url: `${service.url}/v1/import-jobs/${jobId}`, token: operator });
    for (const [i, key] of keys.entries()) await imports.save(key, files[i]!, { length: files[i]!.length, sha256: sha(files[i]!) });
    await imports.close();
    const results = keys.map((path, i) => ({ path, size: files[i]!.length, sha256: sha(files[i]!), code: 'Ok', message: null }));
    await api(operator, 'POST', `/v1/import-jobs/${jobId}/disks/0/results`, { results, progress: { bytesDone: 1000, filesDone: 3 } }, 204);
    const completed = await api<ImportJob>(operator, 'POST', `/v1/import-jobs/${jobId}/disks/0/finish`);
    assert.equal(completed.state, 'Completed');

    const adopting = await api<ImportJob>(agent, 'POST', `/v1/import-jobs/${jobId}/adopt`, { exclude: [] }, 202);
    assert.equal(adopting.adoption?.state, 'Running');
    let job = adopting;
    for (const end = Date.now() + 10_000; job.adoption?.state === 'Running'; await sleep(50)) {
      if (Date.now() > end) assert.fail(`the adoption did not finish: ${JSON.stringify(job.adoption)}`);
      job = await api<ImportJob>(agent, 'GET', `/v1/import-jobs/${jobId}`);
    }
    assert.equal(job.state, 'Adopted');
    assert.deepEqual({ ...job.adoption, startedAt: '', finishedAt: '' }, { state: 'Done', objectsTotal: 3, objectsDone: 3, bytesDone: files.reduce((s, f) => s + f.length, 0), excluded: 0, serverSideCopy: true, startedAt: '', finishedAt: '', error: null });
    const vaultStorage = new HttpStorage({ url: `${service.url}/v1/vaults/${vault.id}`, token: agent });
    try {
      for (const [i, key] of keys.entries()) assert.deepEqual(await vaultStorage.load(key), files[i]);
    } finally {
      await vaultStorage.close();
    }

    const closed = await api<ImportJob>(agent, 'POST', `/v1/import-jobs/${jobId}/close`, {});
    assert.equal(closed.state, 'Closed');
    await api(operator, 'GET', `/v1/import-jobs/${jobId}/objects?prefix=`, undefined, 409);
  });
});
