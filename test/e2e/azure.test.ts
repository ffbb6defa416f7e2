// The Azure Blob back end end to end through bin/ferry, on Azurite (started once for this file): the flows
// of object-store-e2e.ts (a repository used directly with `-r azure://…`, and offline seeding through a
// storage account in Azure), then the outages of store-outage.ts. In CI a missing Azurite fails this file,
// never skips.
import { BlobServiceClient } from '@azure/storage-blob';
import { describe } from 'node:test';
import { AZURITE_ACCOUNT, azuriteSkipReason, useAzurite, type Azurite } from '../../src/storage/testing/azurite.js';
import { objectStoreFlows, type ObjectStoreUnderTest } from './object-store-e2e.js';
import { storeOutages } from './store-outage.js';

/** Azurite as the flows see it: a place is a container of the development account. */
function azureUnderTest(server: Azurite): ObjectStoreUnderTest {
  return {
    place: 'container',
    env: server.env,
    noAccess: { AZURE_STORAGE_CONNECTION_STRING: undefined, AZURE_STORAGE_KEY: undefined },
    missingCredentials: /set AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_KEY/,
    newPlace: () => server.newContainer(),
    url: (container, prefix) => `azure://${AZURITE_ACCOUNT}/${container}/${prefix}`,
    objectNames: async (container) => {
      const names: string[] = [];
      for await (const blob of BlobServiceClient.fromConnectionString(server.connectionString()).getContainerClient(container).listBlobsFlat()) names.push(blob.name);
      return names;
    },
  };
}

describe('Azure Blob back end end to end (Azurite)', { skip: azuriteSkipReason() }, () => {
  const azurite = useAzurite();
  objectStoreFlows(async () => azureUnderTest(await azurite()), 'blob-seed');
  storeOutages(async () => {
    const server = await azurite();
    const container = (name: string) => BlobServiceClient.fromConnectionString(server.connectionString()).getContainerClient(name);
    return {
      ...azureUnderTest(server),
      halt: () => server.halt(),
      restart: () => server.restart(),
      objectBytes: (place, name) => container(place).getBlobClient(name).downloadToBuffer(),
      pendingUploads: async (place) => {
        // A blob with staged blocks and no committed ones is listed only when uncommitted blobs are asked for.
        const committed = new Set<string>();
        for await (const blob of container(place).listBlobsFlat()) committed.add(blob.name);
        const pending: string[] = [];
        for await (const blob of container(place).listBlobsFlat({ includeUncommitedBlobs: true })) if (!committed.has(blob.name)) pending.push(blob.name);
        return pending;
      },
    };
  });
});
