import { TEST_TOKENS, createVaultObjectApp } from '../../service/vault-objects/testing/vault-object-app.js';
import { runStorageConformance } from '../testing/conformance.js';
import { HttpStorage } from './http-storage.js';

// HttpStorage against the vault object routes on a real socket (127.0.0.1, port 0), the vault in an
// FsStorage in a temp dir, with a tenant-admin's full access. The integrator adds the same run against a
// `ferry serve` process.
runStorageConformance('HttpStorage (vault object routes over FsStorage)', async () => {
  const server = await createVaultObjectApp();
  const url = await server.listen();
  return { storage: new HttpStorage({ url, token: TEST_TOKENS.admin }), cleanup: () => server.close() };
});
