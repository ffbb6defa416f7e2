import { describe, it } from 'node:test';
import { runStorageConformance } from '../testing/conformance.js';
import { azuriteSkipReason, useAzurite } from '../testing/azurite.js';
import { AzureAccounts } from './azure-accounts.js';

const skip = azuriteSkipReason();

describe('AzureBlobStorage on Azurite', { skip }, () => {
  const azurite = useAzurite();
  runStorageConformance('AzureBlobStorage (Azurite)', async () => {
    const server = await azurite();
    const accounts = new AzureAccounts({ env: server.env, retry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 200 } });
    return { storage: accounts.storage({ account: 'devstoreaccount1', container: server.newContainer(), prefix: 'p/q' }), cleanup: async () => {} };
  });
  it('placeholder', () => {});
});
