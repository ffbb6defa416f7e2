import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  CALLERS,
  assertMatrixCovers,
  authenticated,
  everyone,
  matrixCoverage,
  matrixRequest,
  MATRIX_CSRF,
  portalForm,
  portalMatrixRequest,
  portalPage,
  routeKey,
  type Expectations,
  type MatrixTable,
} from '../testing/authorization-matrix.js';
import { startServiceFixture, type ServiceFixture } from '../testing/service-fixture.js';
import { getVault } from '../resources/vaults.js';
import { openVaultStorage } from '../resources/vault-storage.js';
import { buildWorld, type World } from '../testing/world.js';
import { snapshotFixture } from '../testing/fixture-snapshot.js';
import { changeImportJob } from '../jobs/job-store.js';
import { TEST_ACTOR, diskRegistration, driveJob, prepareDisks, storeOf, type DrivenState } from '../testing/import-job-fixtures.js';
import { readJob } from '../jobs/job-records.js';
import { openImportStorage } from '../resources/import-adoption.js';
import { shapedBytes } from '../vault-objects/testing/shaped-objects.js';

const tenantParams = (w: World): Record<string, string> => ({ tenantId: w.a.tenantId });
const vaultParams = (w: World): Record<string, string> => ({ vaultId: w.a.vaultId });

/** An object named by the SHA-256 of its bytes, as every repository object but `config` is. */
const OBJECT_BYTES = Buffer.from('an object of the matrix');
const OBJECT_KEY = `keys/${createHash('sha256').update(OBJECT_BYTES).digest('hex')}`;
const NEW_OBJECT_BYTES = shapedBytes('key', 7);
const NEW_OBJECT_KEY = `keys/${createHash('sha256').update(NEW_OBJECT_BYTES).digest('hex')}`;
const objectParams = (key: string) => (w: World): Record<string, string> => ({ vaultId: w.a.vaultId, '*': key });

/** Stores OBJECT_KEY in tenant A's vault, straight through its storage. */
async function storeObject(fixture: ServiceFixture, world: World): Promise<void> {
  const storage = await openVaultStorage(fixture.ctx, await getVault(fixture.ctx, { tokenId: 'setup', role: 'admin', expiresAt: '2100-01-01T00:00:00.000Z' }, world.a.vaultId));
  try {
    await storage.save(OBJECT_KEY, OBJECT_BYTES);
  } finally {
    await storage.close();
  }
}

/** Object routes: tenant A's admins and agent reach A's vault; others get 404 (other tenant) or 403 (role). */
const objectAccess = (admins: number, agent: number): Expectations =>
  authenticated({ admin: admins, tenantAdmin: admins, otherTenantAdmin: 404, agent, otherTenantAgent: 404, job: 403, operator: 403 });

const jobParams = (w: World): Record<string, string> => ({ jobId: w.jobId });

/** Import job routes that tenant A's admins and agent reach; tenant B's get 404, the other roles 403. */
const jobChange = (status: number): Expectations =>
  authenticated({ admin: status, tenantAdmin: status, otherTenantAdmin: 404, agent: status, otherTenantAgent: 404, job: 403, operator: 403 });
/** Routes only the job's own job token may call. */
const jobTokenOnly = (status: number): Expectations =>
  authenticated({ admin: 403, tenantAdmin: 403, otherTenantAdmin: 403, agent: 403, otherTenantAgent: 403, job: status, operator: 403 });

/** Routes only operators may call (the datacenter). */
const operatorOnly = (status: number): Expectations =>
  authenticated({ admin: 403, tenantAdmin: 403, otherTenantAdmin: 403, agent: 403, otherTenantAgent: 403, job: 403, operator: status });
/** Routes of the vault's side of a job: its agent, tenant A's admins; tenant B's get 404, job and operator 403. */
const vaultSide = (status: number): Expectations =>
  authenticated({ admin: status, tenantAdmin: status, otherTenantAdmin: 404, agent: status, otherTenantAgent: 404, job: 403, operator: 403 });
/** Import object reads: everyone who sees the job but the job token. */
const importRead = authenticated({ admin: 200, tenantAdmin: 200, otherTenantAdmin: 404, agent: 200, otherTenantAgent: 404, job: 403, operator: 200 });

/** Prepares the world's job with one disk and drives it to `state`. */
const jobIn = (state: DrivenState) => async (fixture: ServiceFixture, w: World): Promise<void> => {
  await prepareDisks(fixture, w.jobId, 1);
  await driveJob(fixture, w.jobId, state);
};
const disk0 = (w: World): ReturnType<typeof diskRegistration> => diskRegistration(0, w.jobId);
const diskParams = (w: World): Record<string, string> => ({ jobId: w.jobId, index: '0' });
const IMPORT_BYTES = Buffer.from('an imported pack');
const IMPORT_HASH = createHash('sha256').update(IMPORT_BYTES).digest('hex');
const IMPORT_KEY = `data/${IMPORT_HASH.slice(0, 2)}/${IMPORT_HASH}`;
const importObjectParams = (key: string) => (w: World): Record<string, string> => ({ jobId: w.jobId, '*': key });

/** Stores IMPORT_KEY in the world's job (received), straight through its storage. */
async function storeImportObject(fixture: ServiceFixture, w: World): Promise<void> {
  await jobIn('Received')(fixture, w);
  const storage = await openImportStorage(fixture.ctx, (await readJob(fixture.db, w.jobId))!.job);
  try {
    await storage.save(IMPORT_KEY, IMPORT_BYTES);
  } finally {
    await storage.close();
  }
}

/** Throttle limits no run of the matrix reaches. */
const UNLIMITED = { max: 1_000_000, windowMs: 60_000 };

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const CSRF = `_csrf=${MATRIX_CSRF}`;
/** Portal rows: every caller with a token 403 unless given (agents never get in: their tokens open no session). */
const noPortal = { admin: 403, tenantAdmin: 403, otherTenantAdmin: 403, agent: 403, otherTenantAgent: 403, job: 403, operator: 403 };
/** Every role that signs in to the portal gets `status`; agents 403. */
const portalRoles = (status: number) => ({ ...noPortal, admin: status, tenantAdmin: status, otherTenantAdmin: status, job: status, operator: status });

/**
 * The authorization matrix: for every route the service registers, the status every caller gets. The
 * requests are valid, so a status says what access control decided. Tenant A owns every record named;
 * "other" callers belong to tenant B and must get 404 (not 403) for A's records.
 */
const MATRIX: MatrixTable = {
  'GET /healthz': { expect: everyone(200) },
  'GET /openapi.json': { expect: everyone(200) },
  'GET /metrics': {
    expect: authenticated({ admin: 200, tenantAdmin: 403, otherTenantAdmin: 403, agent: 403, otherTenantAgent: 403, job: 403, operator: 403 }),
  },
  'POST /v1/tokens': {
    body: (w) => ({ role: 'tenant-admin', tenantId: w.a.tenantId }),
    expect: authenticated({ admin: 201, tenantAdmin: 201, otherTenantAdmin: 404, agent: 403, otherTenantAgent: 403, job: 403, operator: 403 }),
  },
  'GET /v1/tokens': {
    expect: authenticated({ admin: 200, tenantAdmin: 200, otherTenantAdmin: 200, agent: 403, otherTenantAgent: 403, job: 403, operator: 403 }),
  },
  'DELETE /v1/tokens/:tokenId': {
    params: (w) => ({ tokenId: w.a.agentTokenId }),
    expect: authenticated({ admin: 200, tenantAdmin: 200, otherTenantAdmin: 404, agent: 403, otherTenantAgent: 403, job: 403, operator: 403 }),
  },
  // Every tenant-admin reads its own tenant's records (tenant B's sees B's), so none of them gets 404.
  'GET /v1/audit': {
    query: 'limit=10',
    expect: authenticated({ admin: 200, tenantAdmin: 200, otherTenantAdmin: 200, agent: 403, otherTenantAgent: 403, job: 403, operator: 403 }),
  },
  'POST /v1/tokens/renew': {
    expect: authenticated({ admin: 403, tenantAdmin: 403, otherTenantAdmin: 403, agent: 201, otherTenantAgent: 201, job: 403, operator: 403 }),
  },
  'POST /v1/tokens/renew/confirm': {
    expect: authenticated({ admin: 403, tenantAdmin: 403, otherTenantAdmin: 403, agent: 200, otherTenantAgent: 200, job: 403, operator: 403 }),
  },
  'GET /v1/whoami': {
    expect: authenticated({ admin: 200, tenantAdmin: 200, otherTenantAdmin: 200, agent: 200, otherTenantAgent: 200, job: 200, operator: 200 }),
  },
  'POST /v1/tenants': {
    body: () => ({ name: 'tenant-new' }),
    expect: authenticated({ admin: 201, tenantAdmin: 403, otherTenantAdmin: 403, agent: 403, otherTenantAgent: 403, job: 403, operator: 403 }),
  },
  'GET /v1/tenants': {
    expect: authenticated({ admin: 200, tenantAdmin: 200, otherTenantAdmin: 200, agent: 403, otherTenantAgent: 403, job: 403, operator: 403 }),
  },
  'GET /v1/tenants/:tenantId': {
    params: tenantParams,
    expect: authenticated({ admin: 200, tenantAdmin: 200, otherTenantAdmin: 404, agent: 403, otherTenantAgent: 403, job: 403, operator: 403 }),
  },
  'POST /v1/tenants/:tenantId/storage-accounts': {
    params: tenantParams,
    body: () => ({ name: 'storage-new' }),
    expect: authenticated({ admin: 201, tenantAdmin: 201, otherTenantAdmin: 404, agent: 403, otherTenantAgent: 403, job: 403, operator: 403 }),
  },
  'GET /v1/tenants/:tenantId/storage-accounts': {
    params: tenantParams,
    expect: authenticated({ admin: 200, tenantAdmin: 200, otherTenantAdmin: 404, agent: 403, otherTenantAgent: 403, job: 403, operator: 403 }),
  },
  'GET /v1/storage-accounts/:storageAccountId': {
    params: (w) => ({ storageAccountId: w.a.storageAccountId }),
    expect: authenticated({ admin: 200, tenantAdmin: 200, otherTenantAdmin: 404, agent: 403, otherTenantAgent: 403, job: 403, operator: 403 }),
  },
  'POST /v1/tenants/:tenantId/vaults': {
    params: tenantParams,
    body: (w) => ({ name: 'vault-new', storageAccountId: w.a.storageAccountId }),
    expect: authenticated({ admin: 201, tenantAdmin: 201, otherTenantAdmin: 404, agent: 403, otherTenantAgent: 403, job: 403, operator: 403 }),
  },
  'GET /v1/tenants/:tenantId/vaults': {
    params: tenantParams,
    expect: authenticated({ admin: 200, tenantAdmin: 200, otherTenantAdmin: 404, agent: 403, otherTenantAgent: 403, job: 403, operator: 403 }),
  },
  'GET /v1/vaults/:vaultId': {
    params: vaultParams,
    expect: authenticated({ admin: 200, tenantAdmin: 200, otherTenantAdmin: 404, agent: 200, otherTenantAgent: 404, job: 403, operator: 403 }),
  },
  'POST /v1/vaults/:vaultId/credentials': {
    params: vaultParams,
    expect: authenticated({ admin: 201, tenantAdmin: 201, otherTenantAdmin: 404, agent: 403, otherTenantAgent: 403, job: 403, operator: 403 }),
  },
  'GET /v1/vaults/:vaultId/machines': {
    params: vaultParams,
    expect: authenticated({ admin: 200, tenantAdmin: 200, otherTenantAdmin: 404, agent: 403, otherTenantAgent: 403, job: 403, operator: 403 }),
  },
  'POST /v1/registrations': {
    body: (w) => ({ code: w.registrationCode, hostname: 'new-host' }),
    expect: everyone(201),
  },
  'POST /v1/vaults/:vaultId/backup-runs': {
    params: vaultParams,
    body: () => ({
      startedAt: '2026-11-25T12:00:00.000Z',
      finishedAt: '2026-11-25T12:01:00.000Z',
      status: 'succeeded',
      snapshotId: null, // a run naming a snapshot must name one its machine stored: resources/backup-runs.test.ts
      filesProcessed: 10,
      bytesRead: 1000,
      bytesAdded: 100,
    }),
    expect: authenticated({ admin: 403, tenantAdmin: 403, otherTenantAdmin: 403, agent: 201, otherTenantAgent: 404, job: 403, operator: 403 }),
  },
  'GET /v1/vaults/:vaultId/backup-runs': {
    params: vaultParams,
    query: 'limit=10',
    expect: authenticated({ admin: 200, tenantAdmin: 200, otherTenantAdmin: 404, agent: 403, otherTenantAgent: 403, job: 403, operator: 403 }),
  },
  'PUT /v1/vaults/:vaultId/schedule': {
    params: vaultParams,
    body: () => ({ daily: '02:30', retention: { keepDaily: 7 } }),
    expect: authenticated({ admin: 403, tenantAdmin: 403, otherTenantAdmin: 403, agent: 200, otherTenantAgent: 404, job: 403, operator: 403 }),
  },
  'POST /v1/vaults/:vaultId/retention': {
    params: vaultParams,
    expect: authenticated({ admin: 403, tenantAdmin: 403, otherTenantAdmin: 403, agent: 200, otherTenantAgent: 404, job: 403, operator: 403 }),
  },
  'POST /v1/vaults/:vaultId/import-jobs': {
    params: vaultParams,
    body: (w) => ({ name: 'seed-new', storageAccountId: w.a.storageAccountId, container: 'seed-new' }),
    // The world's job is the vault's open seed; a vault has one at a time.
    setup: async (fixture, w) => void (await changeImportJob(storeOf(fixture), w.jobId, { kind: 'cancel' }, TEST_ACTOR)),
    // The cancel also ended the world's job token: it is refused before its role is looked at.
    expect: { ...jobChange(201), job: 401 },
  },
  'GET /v1/import-jobs': {
    query: 'name=tenant-a-seed',
    expect: authenticated({ admin: 200, tenantAdmin: 200, otherTenantAdmin: 200, agent: 403, otherTenantAgent: 403, job: 403, operator: 200 }),
  },
  'GET /v1/tenants/:tenantId/import-jobs': {
    params: tenantParams,
    expect: authenticated({ admin: 200, tenantAdmin: 200, otherTenantAdmin: 404, agent: 403, otherTenantAgent: 403, job: 403, operator: 403 }),
  },
  'GET /v1/import-jobs/:jobId': {
    params: jobParams,
    expect: authenticated({ admin: 200, tenantAdmin: 200, otherTenantAdmin: 404, agent: 200, otherTenantAgent: 404, job: 200, operator: 200 }),
  },
  'PUT /v1/import-jobs/:jobId/disks/:index': {
    params: (w) => ({ jobId: w.jobId, index: '0' }),
    body: () => diskRegistration(0),
    expect: jobTokenOnly(200),
  },
  'PUT /v1/import-jobs/:jobId/disks/:index/replacement': {
    params: diskParams,
    body: (w) => ({ ...diskRegistration(0, `replacement:${w.jobId}`), replaces: disk0(w).diskId }),
    setup: jobIn('Shipping'),
    expect: jobTokenOnly(200),
  },
  'POST /v1/import-jobs/:jobId/prepared': {
    params: jobParams,
    body: () => ({ disks: 1 }),
    setup: async (fixture, w) => void (await prepareDisks(fixture, w.jobId, 1, false)),
    expect: jobTokenOnly(200),
  },
  'POST /v1/import-jobs/:jobId/shipping': {
    params: jobParams,
    body: () => ({ carrier: 'UPS', trackingNumber: '1Z 999 AA1 01 2345 6784', returnAddress: 'Acme IT\n1 Main Street\nSpringfield' }),
    setup: async (fixture, w) => void (await prepareDisks(fixture, w.jobId, 1)),
    expect: jobChange(200),
  },
  'POST /v1/import-jobs/:jobId/cancel': { params: jobParams, expect: jobChange(200) },
  'POST /v1/import-jobs/:jobId/receive': {
    params: jobParams,
    body: () => ({}),
    setup: jobIn('Shipping'),
    expect: authenticated({ admin: 200, tenantAdmin: 403, otherTenantAdmin: 403, agent: 403, otherTenantAgent: 403, job: 403, operator: 200 }),
  },
  'GET /v1/import-jobs/:jobId/disks/:index/key': { params: diskParams, query: (w) => `diskId=${disk0(w).diskId}`, setup: jobIn('Received'), expect: operatorOnly(200) },
  'POST /v1/import-jobs/:jobId/disks/:index/ingest': {
    params: diskParams,
    body: (w) => ({ diskId: disk0(w).diskId, manifestSha256: disk0(w).manifestSha256 }),
    setup: jobIn('Received'),
    expect: operatorOnly(200),
  },
  'POST /v1/import-jobs/:jobId/disks/:index/results': {
    params: diskParams,
    body: () => ({ results: [{ path: IMPORT_KEY, size: IMPORT_BYTES.length, sha256: IMPORT_HASH, code: 'Ok', message: null }], progress: { bytesDone: 16, filesDone: 1 } }),
    setup: jobIn('Transferring'),
    expect: operatorOnly(204),
  },
  'POST /v1/import-jobs/:jobId/disks/:index/finish': { params: diskParams, body: () => ({}), setup: jobIn('Transferring'), expect: operatorOnly(200) },
  // The fixture's service has no --ingest-root: the operator passes the access check and is told so (400).
  'POST /v1/import-jobs/:jobId/service-ingest': { params: jobParams, body: () => ({ disks: ['/mnt/disk-1'] }), setup: jobIn('Received'), expect: operatorOnly(400) },
  'POST /v1/import-jobs/:jobId/errors': {
    params: jobParams,
    body: () => ({ diskIndex: null, path: null, code: 'ForeignDisk', message: 'a disk of another job was presented' }),
    setup: jobIn('Received'),
    expect: operatorOnly(204),
  },
  'GET /v1/import-jobs/:jobId/errors': {
    params: jobParams,
    expect: authenticated({ admin: 200, tenantAdmin: 200, otherTenantAdmin: 404, agent: 200, otherTenantAgent: 404, job: 200, operator: 200 }),
  },
  'POST /v1/import-jobs/:jobId/adopt': { params: jobParams, body: () => ({ exclude: [] }), setup: jobIn('Completed'), expect: vaultSide(202) },
  'POST /v1/import-jobs/:jobId/close': { params: jobParams, body: () => ({}), setup: jobIn('Adopted'), expect: vaultSide(200) },
  'GET /v1/import-jobs/:jobId/objects': { params: jobParams, query: 'prefix=data/', setup: storeImportObject, expect: importRead },
  'GET /v1/import-jobs/:jobId/objects/*': { params: importObjectParams(IMPORT_KEY), setup: storeImportObject, expect: importRead },
  'HEAD /v1/import-jobs/:jobId/objects/*': { params: importObjectParams(IMPORT_KEY), setup: storeImportObject, expect: importRead },
  // The operator writes while the job is being ingested; the agent only after (409 here); admins only read.
  'PUT /v1/import-jobs/:jobId/objects/*': {
    params: importObjectParams(IMPORT_KEY),
    headers: { 'content-type': 'application/octet-stream' },
    body: () => IMPORT_BYTES,
    setup: jobIn('Transferring'),
    expect: authenticated({ admin: 403, tenantAdmin: 403, otherTenantAdmin: 404, agent: 409, otherTenantAgent: 404, job: 403, operator: 201 }),
  },
  'GET /v1/vaults/:vaultId/objects': { params: vaultParams, query: 'prefix=keys/', setup: storeObject, expect: objectAccess(200, 200) },
  'GET /v1/vaults/:vaultId/objects/*': { params: objectParams(OBJECT_KEY), setup: storeObject, expect: objectAccess(200, 200) },
  'HEAD /v1/vaults/:vaultId/objects/*': { params: objectParams(OBJECT_KEY), setup: storeObject, expect: objectAccess(200, 200) },
  'PUT /v1/vaults/:vaultId/objects/*': {
    params: objectParams(NEW_OBJECT_KEY),
    headers: { 'content-type': 'application/octet-stream' },
    body: () => NEW_OBJECT_BYTES,
    expect: objectAccess(201, 201),
  },
  // An agent may remove only lock objects its own machine saved.
  'DELETE /v1/vaults/:vaultId/objects/*': { params: objectParams(OBJECT_KEY), setup: storeObject, expect: objectAccess(204, 403) },
  'POST /v1/portal/sign-in-links': {
    expect: authenticated({ admin: 201, tenantAdmin: 201, otherTenantAdmin: 201, agent: 403, otherTenantAgent: 403, job: 201, operator: 201 }),
  },

  // The portal: a session cookie instead of the header (portalMatrixRequest); forms carry the session's CSRF token.
  'GET /portal/assets/portal.css': { expect: everyone(200) },
  'GET /portal/assets/portal.js': { expect: everyone(200) },
  'GET /sign-in': { expect: everyone(200) },
  'POST /sign-in': {
    headers: { ...FORM, cookie: 'ferry-sign-in=matrix' },
    body: (w) => `_csrf=matrix&token=${w.a.tenantAdminToken}`,
    expect: everyone(303),
  },
  'GET /sign-in/:code': { params: () => ({ code: 'A'.repeat(43) }), expect: everyone(200) },
  // An unknown link signs nobody in, whoever follows it.
  'POST /sign-in/:code': { params: () => ({ code: 'A'.repeat(43) }), headers: { ...FORM, cookie: 'ferry-sign-in=matrix' }, body: () => '_csrf=matrix', expect: everyone(401) },
  'POST /sign-out': { headers: FORM, body: () => CSRF, expect: portalForm(portalRoles(303)) },
  'GET /': { expect: portalPage(portalRoles(303)) },
  'GET /jobs': { expect: portalPage({ ...noPortal, admin: 200, tenantAdmin: 200, otherTenantAdmin: 200, operator: 200 }) },
  'GET /jobs/:jobId': { params: jobParams, expect: portalPage({ ...noPortal, admin: 200, tenantAdmin: 200, otherTenantAdmin: 404, job: 200, operator: 200 }) },
  'GET /jobs/:jobId/errors.csv': { params: jobParams, expect: portalPage({ ...noPortal, admin: 200, tenantAdmin: 200, otherTenantAdmin: 404, job: 200, operator: 200 }) },
  'POST /jobs/:jobId/shipping': {
    params: jobParams,
    headers: FORM,
    body: () => `${CSRF}&carrier=DHL&trackingNumber=JD+0146&returnAddress=Acme+IT`,
    setup: async (fixture, w) => void (await prepareDisks(fixture, w.jobId, 1)),
    expect: portalForm({ ...noPortal, admin: 303, tenantAdmin: 303, otherTenantAdmin: 404 }),
  },
  'POST /jobs/:jobId/cancel': { params: jobParams, headers: FORM, body: () => CSRF, expect: portalForm({ ...noPortal, admin: 303, tenantAdmin: 303, otherTenantAdmin: 404 }) },
  'GET /vaults': { expect: portalPage({ ...noPortal, admin: 200, tenantAdmin: 200, otherTenantAdmin: 200 }) },
  'GET /vaults/:vaultId': { params: vaultParams, expect: portalPage({ ...noPortal, admin: 200, tenantAdmin: 200, otherTenantAdmin: 404 }) },
  'GET /datacenter': { expect: portalPage({ ...noPortal, admin: 200, operator: 200 }) },
  'GET /admin/tenants': { expect: portalPage({ ...noPortal, admin: 200, tenantAdmin: 200, otherTenantAdmin: 200 }) },
  'GET /admin/tokens': { expect: portalPage({ ...noPortal, admin: 200, tenantAdmin: 200, otherTenantAdmin: 200 }) },
  'POST /admin/tokens': {
    headers: FORM,
    body: (w) => `${CSRF}&role=tenant-admin&tenantId=${w.a.tenantId}`,
    expect: portalForm({ ...noPortal, admin: 201, tenantAdmin: 201, otherTenantAdmin: 404 }),
  },
  'POST /admin/tokens/:tokenId/revoke': {
    params: (w) => ({ tokenId: w.a.agentTokenId }),
    headers: FORM,
    body: () => CSRF,
    expect: portalForm({ ...noPortal, admin: 303, tenantAdmin: 303, otherTenantAdmin: 404 }),
  },
  'GET /admin/audit': { expect: portalPage({ ...noPortal, admin: 200, tenantAdmin: 200, otherTenantAdmin: 200 }) },
};

describe('authorization matrix: every route × every caller', () => {
  it('has exactly one row per registered route', async () => {
    const fixture = await startServiceFixture();
    try {
      await fixture.app.ready(); // routes registered by plugins (the object routes) appear once it is ready
      assertMatrixCovers(fixture.routes, MATRIX);
    } finally {
      await fixture.close();
    }
  });

  it('fails when a route has no row (and when a row names no route)', async () => {
    const fixture = await startServiceFixture();
    try {
      fixture.app.route({ method: 'GET', url: '/v1/unlisted', config: { access: ['admin'] }, handler: async () => ({}) });
      await fixture.app.ready();
      const coverage = matrixCoverage(fixture.routes, { ...MATRIX, 'GET /v1/gone': { expect: everyone(200) } });
      assert.deepEqual(coverage, { missingRows: ['GET /v1/unlisted'], staleRows: ['GET /v1/gone'] });
      assert.throws(() => assertMatrixCovers(fixture.routes, MATRIX), /route GET \/v1\/unlisted has no row/);
    } finally {
      await fixture.close();
    }
  });

  it('refuses to register a route that declares no access', async () => {
    const fixture = await startServiceFixture();
    try {
      assert.throws(() => fixture.app.route({ method: 'GET', url: '/v1/undeclared', handler: async () => ({}) }), /declares no config.access/);
    } finally {
      await fixture.close();
    }
  });

  it('answers every caller of every route as the matrix says', async () => {
    // One server and one world for every cell, each cell starting from a restored copy of that world (its
    // rows and files: testing/fixture-snapshot.ts), so a request that creates or revokes something does not
    // change the next one. The throttle's limits are out of reach: the 401s of hundreds of cells come from
    // one address within a minute.
    const fixture = await startServiceFixture({ authThrottle: { perAddress: UNLIMITED, perPrefix: UNLIMITED } });
    try {
      await fixture.app.ready();
      const routes = fixture.routes.filter((route) => routeKey(route) in MATRIX);
      assert.equal(routes.length, Object.keys(MATRIX).length, 'every row is tried');
      const world = await buildWorld(fixture);
      const fresh = await snapshotFixture(fixture);
      const failures: string[] = [];
      for (const route of routes) {
        const row = MATRIX[routeKey(route)]!;
        // A row's setup runs once on a fresh world; each caller starts from a restored copy of its result.
        await fresh.restore();
        await row.setup?.(fixture, world);
        const start = row.setup === undefined ? fresh : await snapshotFixture(fixture);
        for (const caller of CALLERS) {
          await start.restore();
          const request = matrixRequest(route, row, world, caller);
          const portal = route.portal !== undefined && route.access !== 'public';
          const response = await fixture.app.inject(portal ? await portalMatrixRequest(fixture, world, caller, request) : request);
          if (response.statusCode !== row.expect[caller]) {
            failures.push(`${routeKey(route)} as ${caller}: got ${response.statusCode}, expected ${row.expect[caller]} (${response.body.slice(0, 160)})`);
          }
        }
      }
      assert.deepEqual(failures, []);
    } finally {
      await fixture.close();
    }
  });
});
