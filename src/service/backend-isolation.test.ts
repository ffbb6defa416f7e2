import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isWithin, pathsOverlap, realPathOf } from './backend-isolation.js';
import { containerLocationOf } from './resources/vault-storage.js';
import { expectStatus, injectAs, startServiceFixture, type ServiceFixture } from './testing/service-fixture.js';
import { buildWorld, type World } from './testing/world.js';

describe('paths compared by the isolation rules', () => {
  const cases: ReadonlyArray<readonly [string, string, boolean]> = [
    ['/a/b', '/a', true],
    ['/a', '/a', true],
    ['/a', '/a/b', false],
    ['/ab', '/a', false],
    ['/a/..b', '/a', true],
    ['/x', '/', true],
  ];
  for (const [inner, outer, within] of cases) {
    it(`${inner} is ${within ? '' : 'not '}within ${outer}`, () => assert.equal(isWithin(inner, outer), within));
  }
  it('overlap is symmetric', () => {
    assert.ok(pathsOverlap('/a', '/a/b') && pathsOverlap('/a/b', '/a'));
    assert.ok(!pathsOverlap('/a/b', '/a/c'));
  });

  it('resolves symlinks, also under a path that does not exist yet, and refuses a dangling one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-realpath-'));
    try {
      await mkdir(join(dir, 'real'));
      await symlink(join(dir, 'real'), join(dir, 'link'));
      assert.equal(await realPathOf(join(dir, 'link', 'not', 'yet')), join(await realPathOf(dir), 'real', 'not', 'yet'));
      await symlink(join(dir, 'nowhere'), join(dir, 'dangling'));
      await assert.rejects(realPathOf(join(dir, 'dangling', 'x')), { code: 'BACKEND_OVERLAP' });
      await writeFile(join(dir, 'file'), 'x');
      await assert.rejects(realPathOf(join(dir, 'file', 'x')), { code: 'BACKEND_OVERLAP' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('storage account back ends are isolated (issue 11, finding 3)', () => {
  let f: ServiceFixture;
  let w: World;
  let outside: string;
  const create = (token: string, tenantId: string, body: unknown) => injectAs(f, token, 'POST', `/v1/tenants/${tenantId}/storage-accounts`, body);

  before(async () => {
    f = await startServiceFixture();
    w = await buildWorld(f);
    outside = await mkdtemp(join(tmpdir(), 'ferry-backends-'));
    await writeFile(join(f.dataDir, 'admin.token'), 'fry_adm_secret\n');
  });
  after(async () => {
    await f.close();
    await rm(outside, { recursive: true, force: true });
  });

  it('refuses a back end that overlaps the data directory, by any spelling or symlink', async () => {
    await symlink(f.dataDir, join(outside, 'to-data'));
    const bad = [
      `fs:${f.dataDir}`,
      `fs:${join(f.dataDir, 'storage-accounts')}`,
      `fs:${join(f.dataDir, 'storage-accounts', w.b.storageAccountId)}`,
      `fs:${join(f.dataDir, 'x', '..', 'new-folder')}`,
      `fs:${join(f.dataDir, '..')}`,
      `fs:${join(outside, 'to-data')}`,
      `fs:${join(outside, 'to-data', 'storage-accounts', 'later')}`,
      'fs:/',
    ];
    for (const backend of bad) {
      expectStatus(await create(w.adminToken, w.a.tenantId, { name: `bad-${bad.indexOf(backend)}`, backend }), 409, 'BACKEND_OVERLAP');
    }
    const accounts = (await injectAs(f, w.adminToken, 'GET', `/v1/tenants/${w.a.tenantId}/storage-accounts`)).json<{ storageAccounts: unknown[] }>();
    assert.equal(accounts.storageAccounts.length, 1, 'no refused account was stored');
  });

  it("refuses a back end that overlaps another account's, and allows one beside it", async () => {
    expectStatus(await create(w.adminToken, w.b.tenantId, { name: 'nas', backend: `fs:${join(outside, 'b-store')}` }), 201);
    for (const backend of [join(outside, 'b-store'), join(outside, 'b-store', 'inner'), outside]) {
      expectStatus(await create(w.adminToken, w.a.tenantId, { name: 'steal', backend: `fs:${backend}` }), 409, 'BACKEND_OVERLAP');
    }
    await symlink(join(outside, 'b-store'), join(outside, 'to-b'));
    expectStatus(await create(w.adminToken, w.a.tenantId, { name: 'steal', backend: `fs:${join(outside, 'to-b', 'x')}` }), 409, 'BACKEND_OVERLAP');
    expectStatus(await create(w.adminToken, w.a.tenantId, { name: 'own', backend: `fs:${join(outside, 'a-store')}` }), 201);
  });

  it('refuses containers that could leave their account, at the API and in the resource functions', async () => {
    for (const container of ['..', '.', '', '/etc', 'a/b', '../x', 'ab', 'admin.token', w.b.storageAccountId.toUpperCase()]) {
      expectStatus(await injectAs(f, w.a.tenantAdminToken, 'POST', `/v1/tenants/${w.a.tenantId}/vaults`, { name: 'v-bad', storageAccountId: w.a.storageAccountId, container }), 400);
    }
    await assert.rejects(containerLocationOf(f.ctx, { storageAccountId: w.a.storageAccountId, container: '..' }), { code: 'USER' });
  });

  it('refuses to open a container that is a symlink, and an account whose folder was turned into a symlink later', async () => {
    const vaultA = `/v1/vaults/${w.a.vaultId}/objects`;
    const vaultB = `/v1/vaults/${w.b.vaultId}/objects`;
    const put = (token: string, base: string, key: string, body: Buffer) =>
      f.app.inject({ method: 'PUT', url: `${base}/${key}`, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }, payload: body });
    expectStatus(await put(w.b.tenantAdminToken, vaultB, 'config', Buffer.from('tenant b config')), 201);
    expectStatus(await injectAs(f, w.a.tenantAdminToken, 'GET', vaultA), 200);

    // Tenant A's default account folder now leads into tenant B's account.
    const aFolder = join(f.dataDir, 'storage-accounts', w.a.storageAccountId);
    const bFolder = join(f.dataDir, 'storage-accounts', w.b.storageAccountId);
    await mkdir(aFolder, { recursive: true });
    await rename(aFolder, `${aFolder}.moved`);
    await symlink(bFolder, aFolder);
    expectStatus(await injectAs(f, w.a.tenantAdminToken, 'GET', vaultA), 409, 'BACKEND_OVERLAP');
    expectStatus(await injectAs(f, w.a.tenantAdminToken, 'GET', `${vaultA}/config`), 409, 'BACKEND_OVERLAP');
    // A is the one that leads elsewhere: only A is refused, now and by the start-up check; B is served, whole.
    assert.equal((await injectAs(f, w.b.tenantAdminToken, 'GET', `${vaultB}/config`)).body, 'tenant b config');
    assert.deepEqual((await f.ctx.backends.refusedAccounts(f.db)).map((r) => r.accountId), [w.a.storageAccountId]);

    // A's folder back, but its vault's container is a symlink to the data directory.
    await rm(aFolder);
    await rename(`${aFolder}.moved`, aFolder);
    const container = (await f.db.selectFrom('vaults').select('container').where('id', '=', w.a.vaultId).executeTakeFirstOrThrow()).container;
    await rm(join(aFolder, container), { recursive: true, force: true });
    await symlink(f.dataDir, join(aFolder, container));
    expectStatus(await injectAs(f, w.a.tenantAdminToken, 'GET', vaultA), 409, 'BACKEND_OVERLAP');
    expectStatus(await injectAs(f, w.a.tenantAdminToken, 'GET', `${vaultA}/config`), 409, 'BACKEND_OVERLAP');
    assert.equal(await readFile(join(f.dataDir, 'admin.token'), 'utf8'), 'fry_adm_secret\n');

    await rm(join(aFolder, container));
    expectStatus(await injectAs(f, w.a.tenantAdminToken, 'GET', vaultA), 200);
    // Tenant B is served again and its data is whole.
    assert.equal((await injectAs(f, w.b.tenantAdminToken, 'GET', `${vaultB}/config`)).body, 'tenant b config');
    assert.deepEqual(await f.ctx.backends.refusedAccounts(f.db), []);
  });

  it('refuses both of two explicit back ends that came to overlap (which one moved cannot be told)', async () => {
    await mkdir(join(outside, 'b-store'), { recursive: true });
    await rm(join(outside, 'a-store'), { recursive: true, force: true });
    await symlink(join(outside, 'b-store'), join(outside, 'a-store'));
    const names = async () => {
      const ids = (await f.ctx.backends.refusedAccounts(f.db)).map((r) => r.accountId);
      // `IN ()` is an error on PostgreSQL.
      if (ids.length === 0) return [];
      return (await f.db.selectFrom('storage_accounts').select('name').where('id', 'in', ids).orderBy('name').execute()).map((r) => r.name);
    };
    assert.deepEqual(await names(), ['nas', 'own']);
    await rm(join(outside, 'a-store'));
    assert.deepEqual(await names(), []);
  });
});

describe('storage accounts in Azure Blob are isolated too', () => {
  let f: ServiceFixture;
  let w: World;
  const KEY = Buffer.alloc(64, 7).toString('base64');
  const create = (tenantId: string, name: string, backend: string) => injectAs(f, w.adminToken, 'POST', `/v1/tenants/${tenantId}/storage-accounts`, { name, backend });

  before(async () => {
    f = await startServiceFixture({ env: { AZURE_STORAGE_KEY: KEY } });
    w = await buildWorld(f);
  });
  after(() => f.close());

  it('refuses an account whose container and prefix overlap another, allows one beside it, stores no credential', async () => {
    expectStatus(await create(w.a.tenantId, 'blob', 'azure://acct/backups/tenants/a/'), 201);
    for (const backend of ['azure://acct/backups', 'azure://acct/backups/tenants', 'azure://acct/backups/tenants/a', 'azure://acct/backups/tenants/a/deeper']) {
      expectStatus(await create(w.b.tenantId, 'steal', backend), 409, 'BACKEND_OVERLAP');
    }
    for (const [i, backend] of ['azure://acct/backups/tenants/ab', 'azure://acct/other/tenants/a', 'azure://acct2/backups/tenants/a'].entries()) {
      expectStatus(await create(w.b.tenantId, `beside-${i}`, backend), 201);
    }
    const rows = await f.db.selectFrom('storage_accounts').select('backend').where('backend', 'like', 'azure:%').orderBy('backend').execute();
    assert.deepEqual(rows.map((r) => r.backend), ['azure://acct/backups/tenants/a', 'azure://acct/backups/tenants/ab', 'azure://acct/other/tenants/a', 'azure://acct2/backups/tenants/a']);
    const dump = JSON.stringify(await f.db.selectFrom('storage_accounts').selectAll().execute()) + JSON.stringify(await f.db.selectFrom('audit_records').selectAll().execute());
    assert.ok(!dump.includes(KEY), 'the key is in no table');
    assert.deepEqual(await f.ctx.backends.refusedAccounts(f.db), []);
  });

  it('refuses a URL with a credential without echoing it, and a back end the service has no credentials for', async () => {
    const withSas = await create(w.a.tenantId, 'sas', 'azure://acct/sas-container?sv=2024&sig=SECRETSIG');
    expectStatus(withSas, 400);
    assert.ok(!withSas.body.includes('SECRETSIG'));
    const bare = await startServiceFixture();
    try {
      const world = await buildWorld(bare);
      const refused = await injectAs(bare, world.adminToken, 'POST', `/v1/tenants/${world.a.tenantId}/storage-accounts`, { name: 'blob', backend: 'azure://acct/backups' });
      expectStatus(refused, 400);
      assert.match(refused.body, /AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_KEY/);
    } finally {
      await bare.close();
    }
  });

  it("a vault's container is a prefix below its account's", async () => {
    const account = (await create(w.a.tenantId, 'blob-2', 'azure://acct/vaults')).json<{ id: string }>();
    const location = await containerLocationOf(f.ctx, { storageAccountId: account.id, container: 'vault-1' });
    assert.deepEqual(location, { scheme: 'azure', account: 'acct', container: 'vaults', prefix: 'vault-1' });
  });
});

describe('storage accounts in S3 are isolated too', () => {
  let f: ServiceFixture;
  let w: World;
  const SECRET = 'an-s3-secret-key-never-stored';
  const create = (tenantId: string, name: string, backend: string) => injectAs(f, w.adminToken, 'POST', `/v1/tenants/${tenantId}/storage-accounts`, { name, backend });

  before(async () => {
    f = await startServiceFixture({ env: { AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: SECRET, AZURE_STORAGE_KEY: Buffer.alloc(64, 7).toString('base64') } });
    w = await buildWorld(f);
  });
  after(() => f.close());

  it('refuses an account whose bucket and prefix overlap another, allows one beside it, stores no credential', async () => {
    expectStatus(await create(w.a.tenantId, 's3', 's3://backups/tenants/a/'), 201);
    for (const backend of ['s3://backups', 's3://backups/tenants', 's3://backups/tenants/a', 's3://backups/tenants/a/deeper']) {
      expectStatus(await create(w.b.tenantId, 'steal', backend), 409, 'BACKEND_OVERLAP');
    }
    // Another bucket, a sibling prefix, and an Azure container of the same name: no overlap.
    for (const [i, backend] of ['s3://backups/tenants/ab', 's3://other-bucket/tenants/a', 'azure://backups/backups/tenants/a'].entries()) {
      expectStatus(await create(w.b.tenantId, `beside-${i}`, backend), 201);
    }
    const rows = await f.db.selectFrom('storage_accounts').select('backend').where('backend', 'like', 's3:%').orderBy('backend').execute();
    assert.deepEqual(rows.map((r) => r.backend), ['s3://backups/tenants/a', 's3://backups/tenants/ab', 's3://other-bucket/tenants/a']);
    const dump = JSON.stringify(await f.db.selectFrom('storage_accounts').selectAll().execute()) + JSON.stringify(await f.db.selectFrom('audit_records').selectAll().execute());
    assert.ok(!dump.includes(SECRET), 'the secret is in no table');
    assert.deepEqual(await f.ctx.backends.refusedAccounts(f.db), []);
  });

  it('refuses a URL with a credential without echoing it, and a back end the service has no credentials for', async () => {
    const withKey = await create(w.a.tenantId, 'keyed', 's3://AKID:SECRETKEY@bucket/x');
    expectStatus(withKey, 400);
    assert.ok(!withKey.body.includes('SECRETKEY'));
    const bare = await startServiceFixture();
    try {
      const world = await buildWorld(bare);
      const refused = await injectAs(bare, world.adminToken, 'POST', `/v1/tenants/${world.a.tenantId}/storage-accounts`, { name: 's3', backend: 's3://backups' });
      expectStatus(refused, 400);
      assert.match(refused.body, /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
    } finally {
      await bare.close();
    }
  });

  it("a vault's container is a prefix below its account's", async () => {
    const account = (await create(w.a.tenantId, 's3-2', 's3://vaults')).json<{ id: string }>();
    const location = await containerLocationOf(f.ctx, { storageAccountId: account.id, container: 'vault-1' });
    assert.deepEqual(location, { scheme: 's3', bucket: 'vaults', prefix: 'vault-1' });
  });
});
