import { z } from 'zod';
import type { ServiceContext } from '../context.js';
import { createStorageAccount, getStorageAccount, listStorageAccounts } from '../resources/storage-accounts.js';
import type { ApiApp } from './api-app.js';
import { principalOf } from './route-access.js';
import { RecordId, ResourceName, StorageAccount, TenantParams } from './schemas.js';

/** Storage accounts: created and listed per tenant, shown by id. */
export function registerStorageAccountRoutes(app: ApiApp, ctx: ServiceContext): void {
  app.route({
    method: 'POST',
    url: '/v1/tenants/:tenantId/storage-accounts',
    config: { access: ['admin', 'tenant-admin'], summary: 'Create a storage account (only an admin may name a back end)' },
    schema: {
      params: TenantParams,
      body: z.strictObject({ name: ResourceName, backend: z.string().min(1).max(1024).optional() }),
      response: { 201: StorageAccount },
    },
    handler: async (request, reply) =>
      reply.status(201).send(await createStorageAccount(ctx, principalOf(request), request.params.tenantId, request.body)),
  });
  app.route({
    method: 'GET',
    url: '/v1/tenants/:tenantId/storage-accounts',
    config: { access: ['admin', 'tenant-admin'], summary: "List a tenant's storage accounts" },
    schema: { params: TenantParams, response: { 200: z.object({ storageAccounts: z.array(StorageAccount) }) } },
    handler: async (request) => ({ storageAccounts: await listStorageAccounts(ctx, principalOf(request), request.params.tenantId) }),
  });
  app.route({
    method: 'GET',
    url: '/v1/storage-accounts/:storageAccountId',
    config: { access: ['admin', 'tenant-admin'], summary: 'Show a storage account' },
    schema: { params: z.object({ storageAccountId: RecordId }), response: { 200: StorageAccount } },
    handler: async (request) => getStorageAccount(ctx, principalOf(request), request.params.storageAccountId),
  });
}
