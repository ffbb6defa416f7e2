import { z } from 'zod';
import type { ServiceContext } from '../context.js';
import { createRegistrationCode } from '../resources/registration-codes.js';
import { createVault, getVault, listVaults } from '../resources/vaults.js';
import type { ApiApp } from './api-app.js';
import { principalOf } from './route-access.js';
import { RecordId, ResourceName, TenantParams, Timestamp, Vault, VaultParams } from './schemas.js';

/** A container name as Azure allows it (3–63 of a-z, 0-9 and single hyphens inside), so it fits every back end. */
const Container = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/, 'a container is 3-63 lowercase letters, digits and single hyphens inside');

const VaultCredentials = z.object({
  registrationCode: z.string(),
  expiresAt: Timestamp,
  tenant: z.object({ id: RecordId, name: z.string() }),
  vault: z.object({ id: RecordId, name: z.string() }),
});

/** Vaults: created and listed per tenant, shown by id, and their one-time registration codes. */
export function registerVaultRoutes(app: ApiApp, ctx: ServiceContext): void {
  app.route({
    method: 'POST',
    url: '/v1/tenants/:tenantId/vaults',
    config: { access: ['admin', 'tenant-admin'], summary: "Create a vault in a container of one of the tenant's storage accounts" },
    schema: {
      params: TenantParams,
      body: z.strictObject({ name: ResourceName, storageAccountId: RecordId, container: Container.optional() }),
      response: { 201: Vault },
    },
    handler: async (request, reply) => reply.status(201).send(await createVault(ctx, principalOf(request), request.params.tenantId, request.body)),
  });
  app.route({
    method: 'GET',
    url: '/v1/tenants/:tenantId/vaults',
    config: { access: ['admin', 'tenant-admin'], summary: "List a tenant's vaults" },
    schema: { params: TenantParams, response: { 200: z.object({ vaults: z.array(Vault) }) } },
    handler: async (request) => ({ vaults: await listVaults(ctx, principalOf(request), request.params.tenantId) }),
  });
  app.route({
    method: 'GET',
    url: '/v1/vaults/:vaultId',
    config: { access: ['admin', 'tenant-admin', 'agent'], summary: 'Show a vault (an agent: only its own)' },
    schema: { params: VaultParams, response: { 200: Vault } },
    handler: async (request) => getVault(ctx, principalOf(request), request.params.vaultId),
  });
  app.route({
    method: 'POST',
    url: '/v1/vaults/:vaultId/credentials',
    config: { access: ['admin', 'tenant-admin'], summary: 'Create a one-time registration code for the vault (valid 48 hours, shown once)' },
    schema: { params: VaultParams, response: { 201: VaultCredentials } },
    handler: async (request, reply) => reply.status(201).send(await createRegistrationCode(ctx, principalOf(request), request.params.vaultId)),
  });
}
