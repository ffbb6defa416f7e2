// The storage conformance suite over HTTP against a real `ferry serve` process on 127.0.0.1: HttpStorage
// with a tenant-admin token (full access) on a fresh vault per case.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { ServiceClient } from '../../src/cli/service-client.js';
import { HttpStorage } from '../../src/storage/http/http-storage.js';
import { runStorageConformance } from '../../src/storage/testing/conformance.js';
import { makeTempDir, type TempDir } from './harness.js';
import { startServe, type ServeProcess } from './service-harness.js';

describe('storage conformance against `ferry serve`', () => {
  let tmp: TempDir;
  let serve: ServeProcess;
  let admin: ServiceClient;
  let tenantAdminToken: string;
  let tenantId: string;
  let storageAccountId: string;
  let vaults = 0;

  before(async () => {
    tmp = await makeTempDir('ferry-serve-conformance-');
    serve = await startServe(join(tmp.path, 'service'));
    admin = new ServiceClient(serve.url, (await readFile(join(tmp.path, 'service', 'admin.token'), 'utf8')).trim());
    tenantId = (await admin.createTenant('conformance')).id;
    storageAccountId = (await admin.createStorageAccount(tenantId, { name: 'objects' })).id;
    tenantAdminToken = (await admin.createToken({ role: 'tenant-admin', tenantId })).token;
  });
  after(async () => {
    await serve?.stop();
    await tmp?.cleanup();
  });

  runStorageConformance('HttpStorage on ferry serve', async () => {
    const vault = await admin.createVault(tenantId, { name: `vault-${++vaults}`, storageAccountId });
    return { storage: new HttpStorage({ url: `${serve.url}/v1/vaults/${vault.id}`, token: tenantAdminToken }), cleanup: async () => undefined };
  });
});
