// Issue 11, finding 3, end to end through bin/ferry against a real `ferry serve`: a storage account's back end
// may not overlap the data directory or another account's (real paths, symlinks resolved), at creation and
// after a restart, and containers stay inside their account. The attack (a tenant reading admin.token or
// another tenant's vault through a crafted back end or container) fails, and the other tenant's data is whole.
import assert from 'node:assert/strict';
import { mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ferry, ferryOk, lastJson, makeTempDir, type TempDir } from './harness.js';
import { startServe, type ServeProcess } from './service-harness.js';

describe('storage account back ends are isolated, end to end', () => {
  let tmp: TempDir;
  let dataDir: string;
  let serve: ServeProcess;
  let admin: string;
  let acmeAdmin: string;
  let globexAdmin: string;
  let globexAccountId: string;
  let globexVault: { id: string; container: string };
  const path = (name: string): string => join(tmp.path, name);
  const as = (token: string) => ({ env: { FERRY_SERVER: serve.url, FERRY_TOKEN: token, FERRY_STATE_DIR: path('nobody') } });
  const vaultRepo = (vaultId: string) => ({ args: ['-r', `${serve.url}/v1/vaults/${vaultId}`], env: { FERRY_TOKEN: globexAdmin, FERRY_STATE_DIR: path('nobody') } });
  const api = (token: string, method: string, url: string, body?: unknown) =>
    fetch(`${serve.url}${url}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

  before(async () => {
    tmp = await makeTempDir('ferry-e2e-isolation-');
    dataDir = path('service');
    serve = await startServe(dataDir);
    admin = (await readFile(join(dataDir, 'admin.token'), 'utf8')).trim();
    for (const tenant of ['acme', 'globex']) await ferryOk(['tenant', 'create', tenant], as(admin));
    const tenantAdmin = async (tenant: string) => lastJson<{ token: string }>((await ferryOk(['token', 'create', '--role', 'tenant-admin', '--tenant', tenant, '--json'], as(admin))).stdout).token;
    acmeAdmin = await tenantAdmin('acme');
    globexAdmin = await tenantAdmin('globex');
    globexAccountId = lastJson<{ id: string }>((await ferryOk(['storage-account', 'create', 'files', '--json'], as(globexAdmin))).stdout).id;
    globexVault = lastJson<{ id: string; container: string }>((await ferryOk(['vault', 'create', 'secret', '--storage-account', 'files', '--json'], as(globexAdmin))).stdout);
    await mkdir(path('src'));
    await writeFile(path('src/plans.txt'), 'globex plans\n');
    const repo = vaultRepo(globexVault.id);
    await ferryOk(['init', ...repo.args], repo);
    await ferryOk(['backup', ...repo.args, path('src')], repo);
  });
  after(async () => {
    await serve?.stop('SIGKILL');
    await tmp?.cleanup();
  });

  it('refuses back ends that overlap the data directory or another account, by any spelling or symlink', async () => {
    await symlink(dataDir, path('to-data'));
    const refused = [dataDir, join(dataDir, 'storage-accounts'), join(dataDir, 'storage-accounts', globexAccountId), path('to-data'), tmp.path];
    for (const backend of refused) {
      const result = await ferry(['storage-account', 'create', 'evil', '--tenant', 'acme', '--backend', `fs:${backend}`], as(admin));
      assert.equal(result.code, 1, `${backend}: ${result.stderr}`);
      assert.match(result.stderr, /overlaps|contains/);
      assert.equal(result.stderr.trim().split('\n').length, 1, 'one line');
    }
    await ferryOk(['storage-account', 'create', 'nas', '--tenant', 'acme', '--backend', `fs:${path('acme-nas')}`], as(admin));
    const inside = await ferry(['storage-account', 'create', 'evil', '--tenant', 'globex', '--backend', `fs:${path('acme-nas/inner')}`], as(admin));
    assert.equal(inside.code, 1, inside.stderr);
    assert.match(inside.stderr, /overlaps the back end of another storage account/);
  });

  it('keeps containers inside their account', async () => {
    const acme = ((await (await api(acmeAdmin, 'GET', '/v1/tenants')).json()) as { tenants: Array<{ id: string }> }).tenants[0]!.id;
    const nas = lastJson<Array<{ id: string; name: string }>>((await ferryOk(['storage-account', 'list', '--json'], as(acmeAdmin))).stdout).find((a) => a.name === 'nas')!;
    for (const container of ['..', '.', '../..', '/etc', 'a/../b', '', 'admin.token']) {
      const response = await api(acmeAdmin, 'POST', `/v1/tenants/${acme}/vaults`, { name: 'spy', storageAccountId: nas.id, container });
      assert.equal(response.status, 400, `${container}: ${await response.text()}`);
    }
    const cli = await ferry(['vault', 'create', 'spy', '--storage-account', 'nas', '--container', '../service'], as(acmeAdmin));
    assert.equal(cli.code, 1, cli.stderr);
  });

  it('a back end turned into a symlink to another tenant or the data directory is refused after a restart; the victim is whole', async () => {
    // Acme's tenant-admin makes a vault whose container is named like globex's, in acme's own account.
    const acmeNas = lastJson<Array<{ id: string; name: string }>>((await ferryOk(['storage-account', 'list', '--json'], as(acmeAdmin))).stdout).find((a) => a.name === 'nas')!;
    const spy = lastJson<{ id: string }>((await ferryOk(['vault', 'create', 'spy', '--storage-account', acmeNas.id, '--container', globexVault.container, '--json'], as(acmeAdmin))).stdout);
    await serve.stop();
    // Someone with access to the host points acme's back end at globex's account, then at the data directory.
    await mkdir(path('acme-nas'), { recursive: true });
    await rename(path('acme-nas'), path('acme-nas.old'));
    for (const target of [join(dataDir, 'storage-accounts', globexAccountId), dataDir]) {
      await rm(path('acme-nas'), { force: true });
      await symlink(target, path('acme-nas'));
      serve = await startServe(dataDir);
      for (let waited = 0; !/storage account refused/.test(serve.output().stderr) && waited < 10_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
      assert.match(serve.output().stderr, /storage account refused/);
      for (const key of ['config', 'admin.token', '']) {
        const read = await api(acmeAdmin, 'GET', `/v1/vaults/${spy.id}/objects${key === '' ? '' : `/${key}`}`);
        const body = await read.text();
        assert.ok(read.status === 409 || read.status === 400, `${key}: ${read.status} ${body}`);
        assert.ok(!body.includes(admin) && !body.includes('fry_adm_'), 'no token leaks');
      }
      // Globex is served and whole.
      const repo = vaultRepo(globexVault.id);
      await ferryOk(['check', '--read-data', ...repo.args], repo);
      await rm(path('restored'), { recursive: true, force: true });
      await ferryOk(['restore', ...repo.args, 'latest', '--target', path('restored')], repo);
      assert.equal(await readFile(join(path('restored'), path('src'), 'plans.txt'), 'utf8'), 'globex plans\n');
      await serve.stop();
    }
    assert.equal((await readFile(join(dataDir, 'admin.token'), 'utf8')).trim(), admin);
    serve = await startServe(dataDir);
  });
});
