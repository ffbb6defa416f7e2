import assert from 'node:assert/strict';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { openVaultStorage } from '../resources/vault-storage.js';
import { bearer, expectStatus, injectAs, startServiceFixture, type ServiceFixture } from '../testing/service-fixture.js';
import { shapedObject } from '../vault-objects/testing/shaped-objects.js';
import { buildWorld, type World } from '../testing/world.js';

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

describe('tenants', () => {
  it('are created by admins with unique, valid names; a tenant-admin lists only its own', async () => {
    const created = await call(w.adminToken, 'POST', '/v1/tenants', { name: 'acme' });
    expectStatus(created, 201);
    assert.equal(created.json<{ name: string }>().name, 'acme');
    expectStatus(await call(w.adminToken, 'POST', '/v1/tenants', { name: 'acme' }), 409, 'ALREADY_EXISTS');
    // Names are unique ignoring case: ACME is acme.
    for (const name of ['ACME', 'Acme']) {
      const taken = await call(w.adminToken, 'POST', '/v1/tenants', { name });
      expectStatus(taken, 409, 'ALREADY_EXISTS');
      assert.match(taken.json<{ message: string }>().message, /already exists \(tenant names are compared ignoring case\)/);
    }
    for (const name of ['', 'a'.repeat(64), '-lead', 'sp ace', 'ümlaut', '6f1e2a70-0000-4000-8000-000000000001']) {
      expectStatus(await call(w.adminToken, 'POST', '/v1/tenants', { name }), 400, 'INVALID_REQUEST');
    }
    expectStatus(await call(w.adminToken, 'POST', '/v1/tenants', { name: 'ok', extra: 1 }), 400, 'INVALID_REQUEST');
    const all = (await call(w.adminToken, 'GET', '/v1/tenants')).json<{ tenants: { name: string }[] }>().tenants.map((t) => t.name);
    assert.deepEqual(all, ['acme', 'tenant-a', 'tenant-b']);
    const own = (await call(w.a.tenantAdminToken, 'GET', '/v1/tenants')).json<{ tenants: { name: string }[] }>().tenants.map((t) => t.name);
    assert.deepEqual(own, ['tenant-a']);
  });

  it('answer 404 for ids that do not exist and 400 for ids that are not ids', async () => {
    expectStatus(await call(w.adminToken, 'GET', '/v1/tenants/6f1e2a70-0000-4000-8000-000000000001'), 404, 'NOT_FOUND');
    expectStatus(await call(w.adminToken, 'GET', '/v1/tenants/not-an-id'), 400, 'INVALID_REQUEST');
  });
});

describe('storage accounts', () => {
  const url = (): string => `/v1/tenants/${w.a.tenantId}/storage-accounts`;

  it('default to the data directory; only an admin names an fs back end, in canonical form', async () => {
    const own = await call(w.a.tenantAdminToken, 'POST', url(), { name: 'mine' });
    expectStatus(own, 201);
    assert.equal(own.json<{ backend: string | null }>().backend, null);
    expectStatus(await call(w.a.tenantAdminToken, 'POST', url(), { name: 'elsewhere', backend: 'fs:/srv/x' }), 403, 'FORBIDDEN');
    const fs = await call(w.adminToken, 'POST', url(), { name: 'srv', backend: 'fs:/srv/ferry/../ferry/accounts' });
    expectStatus(fs, 201);
    assert.equal(fs.json<{ backend: string }>().backend, 'fs:/srv/ferry/accounts');
    const file = await call(w.adminToken, 'POST', url(), { name: 'file', backend: 'file:///srv/other' });
    assert.equal(file.json<{ backend: string }>().backend, 'fs:/srv/other');
  });

  it('refuse back ends this version cannot open, and relative paths, with a clear message', async () => {
    const vault = await call(w.adminToken, 'POST', url(), { name: 'cloud', backend: 'https://ferry.example/v1/vaults/v-1' });
    expectStatus(vault, 400, 'USER');
    assert.match(vault.json<{ message: string }>().message, /"https:" is not supported by this version/);
    // S3 and Azure Blob are supported, but this service has no credentials for them in its environment.
    const s3 = await call(w.adminToken, 'POST', url(), { name: 'cloud', backend: 's3://bucket/prefix' });
    expectStatus(s3, 400, 'USER');
    assert.match(s3.json<{ message: string }>().message, /set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
    const azure = await call(w.adminToken, 'POST', url(), { name: 'cloud', backend: 'azure://account/container' });
    expectStatus(azure, 400, 'USER');
    assert.match(azure.json<{ message: string }>().message, /set AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_KEY/);
    for (const backend of ['fs:relative/path', 'relative', 'ftp://host/x', 'fs:']) {
      expectStatus(await call(w.adminToken, 'POST', url(), { name: 'bad', backend }), 400);
    }
  });

  it('have names unique per tenant', async () => {
    expectStatus(await call(w.adminToken, 'POST', url(), { name: 'tenant-a-storage' }), 409, 'ALREADY_EXISTS');
    expectStatus(await call(w.adminToken, 'POST', `/v1/tenants/${w.b.tenantId}/storage-accounts`, { name: 'tenant-a-storage' }), 201);
  });
});

describe('vaults', () => {
  const url = (): string => `/v1/tenants/${w.a.tenantId}/vaults`;

  it('live in a storage account of the same tenant', async () => {
    const foreign = await call(w.adminToken, 'POST', url(), { name: 'v', storageAccountId: w.b.storageAccountId });
    expectStatus(foreign, 404, 'NOT_FOUND');
    assert.match(foreign.json<{ message: string }>().message, /not found in tenant "tenant-a"/);
  });

  it('take their id as container by default, or a given container unique in the storage account', async () => {
    const plain = await call(w.a.tenantAdminToken, 'POST', url(), { name: 'plain', storageAccountId: w.a.storageAccountId });
    expectStatus(plain, 201);
    const v = plain.json<{ id: string; container: string }>();
    assert.equal(v.container, v.id);
    expectStatus(await call(w.a.tenantAdminToken, 'POST', url(), { name: 'named', storageAccountId: w.a.storageAccountId, container: 'backups-2026' }), 201);
    expectStatus(await call(w.a.tenantAdminToken, 'POST', url(), { name: 'again', storageAccountId: w.a.storageAccountId, container: 'backups-2026' }), 409);
    expectStatus(await call(w.a.tenantAdminToken, 'POST', url(), { name: 'plain', storageAccountId: w.a.storageAccountId }), 409);
    for (const container of ['ab', 'Upper', 'double--hyphen', '-x-', '../escape']) {
      expectStatus(await call(w.a.tenantAdminToken, 'POST', url(), { name: 'c', storageAccountId: w.a.storageAccountId, container }), 400, 'INVALID_REQUEST');
    }
    const names = (await call(w.a.tenantAdminToken, 'GET', url())).json<{ vaults: { name: string }[] }>().vaults.map((x) => x.name);
    assert.deepEqual(names, ['named', 'plain', 'tenant-a-vault']);
  });

  it('keep their objects in DATA_DIR/storage-accounts/<account>/<container>, or under the account’s fs back end', async () => {
    const storage = await openVaultStorage(f.ctx, { storageAccountId: w.a.storageAccountId, container: w.a.vaultId });
    await storage.save('config', Buffer.from('x'));
    await storage.close();
    await stat(join(f.dataDir, 'storage-accounts', w.a.storageAccountId, w.a.vaultId, 'config'));
    // Beside the data directory: an account's back end may not be inside it (backend-isolation.ts).
    const root = `${f.dataDir}-elsewhere`;
    const account = (await call(w.adminToken, 'POST', `/v1/tenants/${w.a.tenantId}/storage-accounts`, { name: 'own-root', backend: `fs:${root}` })).json<{ id: string }>();
    const other = await openVaultStorage(f.ctx, { storageAccountId: account.id, container: 'box' });
    await other.save('config', Buffer.from('y'));
    await other.close();
    await stat(join(root, 'box', 'config'));
    await rm(root, { recursive: true });
  });
});

describe('tokens', () => {
  it('tenant-admins create only tenant-admin tokens of their own tenant', async () => {
    expectStatus(await call(w.a.tenantAdminToken, 'POST', '/v1/tokens', { role: 'admin' }), 403, 'FORBIDDEN');
    expectStatus(await call(w.a.tenantAdminToken, 'POST', '/v1/tokens', { role: 'operator' }), 403, 'FORBIDDEN');
    expectStatus(await call(w.a.tenantAdminToken, 'POST', '/v1/tokens', { role: 'tenant-admin', tenantId: w.b.tenantId }), 404);
    expectStatus(await call(w.a.tenantAdminToken, 'POST', '/v1/tokens', { role: 'agent' }), 400, 'INVALID_REQUEST');
    const made = await call(w.a.tenantAdminToken, 'POST', '/v1/tokens', { role: 'tenant-admin', tenantId: w.a.tenantId, expiresInSeconds: 3600 });
    expectStatus(made, 201);
    const token = made.json<{ token: string; expiresAt: string; tenantId: string }>();
    assert.match(token.token, /^fry_ten_/);
    assert.equal(Date.parse(token.expiresAt) - f.clock.now(), 3_600_000);
    expectStatus(await call(token.token, 'GET', `/v1/tenants/${w.a.tenantId}`), 200);
  });

  it('made by a tenant-admin never outlive the token that made them', async () => {
    const parent = await f.token({ role: 'tenant-admin', tenantId: w.a.tenantId, lifetimeMs: 10 * 86_400_000 });
    const longer = await call(parent.token, 'POST', '/v1/tokens', { role: 'tenant-admin', tenantId: w.a.tenantId, expiresInSeconds: 11 * 86_400 });
    expectStatus(longer, 400, 'USER');
    assert.match(longer.json<{ message: string }>().message, /cannot outlive your own/);
    const byDefault = await call(parent.token, 'POST', '/v1/tokens', { role: 'tenant-admin', tenantId: w.a.tenantId });
    expectStatus(byDefault, 201);
    assert.equal(byDefault.json<{ expiresAt: string }>().expiresAt, parent.expiresAt, 'the 90-day default is cut to the parent’s expiry');
    const byAdmin = await call(w.adminToken, 'POST', '/v1/tokens', { role: 'tenant-admin', tenantId: w.a.tenantId, expiresInSeconds: 400 * 86_400 });
    expectStatus(byAdmin, 201);
  });

  it('need a tenant exactly for tenant-admin tokens', async () => {
    expectStatus(await call(w.adminToken, 'POST', '/v1/tokens', { role: 'tenant-admin' }), 400, 'USER');
    expectStatus(await call(w.adminToken, 'POST', '/v1/tokens', { role: 'operator', tenantId: w.a.tenantId }), 400, 'USER');
    const op = await call(w.adminToken, 'POST', '/v1/tokens', { role: 'operator' });
    expectStatus(op, 201);
    assert.match(op.json<{ token: string }>().token, /^fry_opr_/);
  });

  it('revoked, stop working at once; a tenant-admin sees and revokes only its tenant’s', async () => {
    const listed = (await call(w.a.tenantAdminToken, 'GET', '/v1/tokens')).json<{ tokens: { id: string; tenantId: string }[] }>().tokens;
    assert.ok(listed.length > 0 && listed.every((t) => t.tenantId === w.a.tenantId));
    assert.ok(!JSON.stringify(listed).includes('fry_'), 'no secrets in listings');
    expectStatus(await call(w.a.agentToken, 'GET', `/v1/vaults/${w.a.vaultId}`), 200);
    const revoked = await call(w.a.tenantAdminToken, 'DELETE', `/v1/tokens/${w.a.agentTokenId}`);
    expectStatus(revoked, 200);
    assert.ok(revoked.json<{ revokedAt: string | null }>().revokedAt);
    expectStatus(await call(w.a.agentToken, 'GET', `/v1/vaults/${w.a.vaultId}`), 401, 'TOKEN_REVOKED');
    expectStatus(await call(w.b.tenantAdminToken, 'DELETE', `/v1/tokens/${w.a.agentTokenId}`), 404);
    expectStatus(await call(w.adminToken, 'DELETE', '/v1/tokens/6f1e2a70-0000-4000-8000-000000000001'), 404);
  });

  it('whoami describes the presented token', async () => {
    const me = (await call(w.a.agentToken, 'GET', '/v1/whoami')).json<Record<string, string>>();
    assert.equal(me.role, 'agent');
    assert.equal(me.vaultId, w.a.vaultId);
    assert.equal(me.machineId, w.a.machineId);
    assert.equal(me.tenantId, w.a.tenantId);
  });
});

describe('backup runs', () => {
  const url = (): string => `/v1/vaults/${w.a.vaultId}/backup-runs`;
  const report = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
    startedAt: '2026-11-25T13:00:00Z',
    finishedAt: '2026-11-25T14:30:00+01:00',
    status: 'partial',
    snapshotId: null,
    filesProcessed: 12,
    bytesRead: 4096,
    bytesAdded: 1024,
    errorCount: 3,
    errors: ['/srv/a: permission denied', '/srv/b: permission denied'],
    ...over,
  });
  /** Stores a snapshot-shaped object in tenant A's vault as its agent; returns its id. */
  async function storedSnapshot(seed: number): Promise<string> {
    const { key, bytes } = shapedObject('snapshot', seed);
    const stored = await f.app.inject({ method: 'PUT', url: `/v1/vaults/${w.a.vaultId}/objects/${key}`, headers: { ...bearer(w.a.agentToken), 'content-type': 'application/octet-stream' }, payload: bytes });
    expectStatus(stored, 201);
    return key.slice('snapshots/'.length);
  }

  it('are reported by the vault’s agent and listed newest first for tenant-admins', async () => {
    f.clock.advance(2 * 24 * 60 * 60 * 1000);
    expectStatus(await call(w.a.agentToken, 'POST', url(), report({ snapshotId: await storedSnapshot(1) })), 201);
    expectStatus(await call(w.a.agentToken, 'POST', url(), report({ startedAt: '2026-11-26T10:00:00Z', finishedAt: '2026-11-26T10:01:00Z', status: 'succeeded', snapshotId: await storedSnapshot(2), errorCount: 0, errors: [] })), 201);
    expectStatus(await call(w.a.agentToken, 'POST', url(), report({ startedAt: '2026-11-25T12:30:00Z', finishedAt: '2026-11-25T12:31:00Z', status: 'failed' })), 201);
    const runs = (await call(w.a.tenantAdminToken, 'GET', `${url()}?limit=2`)).json<{ backupRuns: { startedAt: string; status: string; machineId: string; errors: string[] }[] }>().backupRuns;
    assert.deepEqual(runs.map((r) => [r.startedAt, r.status]), [['2026-11-26T10:00:00.000Z', 'succeeded'], ['2026-11-25T13:00:00.000Z', 'partial']]);
    assert.equal(runs[1]!.machineId, w.a.machineId);
    assert.deepEqual(runs[1]!.errors, ['/srv/a: permission denied', '/srv/b: permission denied']);
    const machines = (await call(w.a.tenantAdminToken, 'GET', `/v1/vaults/${w.a.vaultId}/machines`)).json<{ machines: { id: string; lastReportAt: string | null }[] }>().machines;
    assert.equal(machines.find((m) => m.id === w.a.machineId)?.lastReportAt, new Date(f.clock.now()).toISOString());
  });

  it('are bounded: at most 20 errors of at most 500 characters, consistent counts and times', async () => {
    f.clock.advance(24 * 60 * 60 * 1000);
    expectStatus(await call(w.a.agentToken, 'POST', url(), report({ errors: Array.from({ length: 21 }, () => 'e'), errorCount: 21 })), 400, 'INVALID_REQUEST');
    expectStatus(await call(w.a.agentToken, 'POST', url(), report({ errors: ['x'.repeat(501)] })), 400, 'INVALID_REQUEST');
    expectStatus(await call(w.a.agentToken, 'POST', url(), report({ errorCount: 1 })), 400, 'RUN_REPORT_REFUSED');
    expectStatus(await call(w.a.agentToken, 'POST', url(), report({ finishedAt: '2026-11-25T12:59:00Z' })), 400, 'RUN_REPORT_REFUSED');
    expectStatus(await call(w.a.agentToken, 'POST', url(), report({ snapshotId: 'XYZ' })), 400, 'INVALID_REQUEST');
    expectStatus(await call(w.a.agentToken, 'POST', url(), report({ bytesRead: -1 })), 400, 'INVALID_REQUEST');
    expectStatus(await call(w.a.agentToken, 'POST', url(), report({ status: 'great' })), 400, 'INVALID_REQUEST');
    expectStatus(await call(w.a.tenantAdminToken, 'GET', `${url()}?limit=0`), 400, 'INVALID_REQUEST');
    expectStatus(await call(w.a.tenantAdminToken, 'GET', `${url()}?limit=501`), 400, 'INVALID_REQUEST');
    const runs = (await call(w.a.tenantAdminToken, 'GET', url())).json<{ backupRuns: unknown[] }>().backupRuns;
    assert.equal(runs.length, 0, 'nothing invalid was recorded');
  });
});

describe('health, metrics and the OpenAPI document', () => {
  it('GET /healthz answers 200 without a token', async () => {
    const response = await call(undefined, 'GET', '/healthz');
    expectStatus(response, 200);
    assert.deepEqual(response.json(), { status: 'ok' });
  });

  it('GET /metrics counts requests by route pattern and status, and reads gauges from the database', async () => {
    await call(w.adminToken, 'GET', `/v1/tenants/${w.a.tenantId}`);
    await call(w.adminToken, 'GET', `/v1/tenants/${w.b.tenantId}`);
    await call(undefined, 'GET', `/v1/tenants/${w.a.tenantId}`);
    f.ctx.metrics.addStoredBytes(1234);
    const response = await call(w.adminToken, 'GET', '/metrics');
    expectStatus(response, 200);
    assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const text = response.body;
    assert.match(text, /^ferry_http_requests_total\{method="GET",route="\/v1\/tenants\/:tenantId",status="200"\} 2$/m);
    assert.match(text, /^ferry_http_requests_total\{method="GET",route="\/v1\/tenants\/:tenantId",status="401"\} 1$/m);
    assert.match(text, /^ferry_stored_bytes_total 1234$/m);
    assert.match(text, /^ferry_tenants 2$/m);
    assert.match(text, /^ferry_vaults 2$/m);
    assert.match(text, /^ferry_machines 2$/m);
    assert.match(text, /^# TYPE ferry_import_jobs gauge$/m);
    assert.ok(!text.includes(w.a.tenantId), 'raw URLs are not labels');
  });

  it('GET /openapi.json documents every route from the schemas that validate it', async () => {
    const response = await call(undefined, 'GET', '/openapi.json');
    expectStatus(response, 200);
    const doc = response.json<{ openapi: string; paths: Record<string, Record<string, Record<string, unknown>>> }>();
    assert.equal(doc.openapi, '3.1.0');
    for (const route of f.routes) {
      const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      if (route.portal !== undefined) assert.equal(doc.paths[path]?.[route.method.toLowerCase()], undefined, `portal page ${route.url} is not part of the API`);
      else assert.ok(doc.paths[path]?.[route.method.toLowerCase()], `${route.method} ${route.url} is documented`);
    }
    const createTenant = doc.paths['/v1/tenants']!.post!;
    const body = (createTenant.requestBody as { content: Record<string, { schema: { properties: { name: { maxLength: number } } } }> }).content['application/json']!.schema;
    assert.equal(body.properties.name.maxLength, 63);
    assert.deepEqual(createTenant['x-ferry-access'], ['admin']);
    const vaultParams = doc.paths['/v1/vaults/{vaultId}']!.get!.parameters as { name: string; in: string; required: boolean }[];
    assert.deepEqual(vaultParams.map((p) => [p.name, p.in, p.required]), [['vaultId', 'path', true]]);
    const listRuns = doc.paths['/v1/vaults/{vaultId}/backup-runs']!.get!.parameters as { name: string; in: string; required: boolean }[];
    assert.deepEqual(listRuns.find((p) => p.name === 'limit'), { ...listRuns.find((p) => p.name === 'limit'), in: 'query', required: false });
  });
});
