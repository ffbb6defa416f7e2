import { z } from 'zod';
import type { ServiceContext } from '../context.js';
import { createRegistrationCode } from '../resources/registration-codes.js';
import { JOB_STATES } from '../../contract/job-states.js';
import { createVault, getVaultDetails, listVaults } from '../resources/vaults.js';
import type { ApiApp } from './api-app.js';
import { principalOf } from './route-access.js';
import { Container, RecordId, ResourceName, TenantParams, Timestamp, Vault, VaultParams } from './schemas.js';

const VaultCredentials = z.object({
  registrationCode: z.string(),
  expiresAt: Timestamp,
  tenant: z.object({ id: RecordId, name: z.string() }),
  vault: z.object({ id: RecordId, name: z.string() }),
  caFingerprint: z.string().nullable(),
});

/** A vault with its pending offline seed: the open import job, or null. */
const VaultWithSeed = Vault.extend({
  seed: z.object({ jobId: RecordId, jobName: z.string(), state: z.enum(JOB_STATES) }).nullable(),
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
    config: { access: ['admin', 'tenant-admin', 'agent'], summary: 'Show a vault with its pending offline seed (an agent: only its own)' },
    schema: { params: VaultParams, response: { 200: VaultWithSeed } },
    handler: async (request) => getVaultDetails(ctx, principalOf(request), request.params.vaultId),
  });
  app.route({
    method: 'POST',
    url: '/v1/vaults/:vaultId/credentials',
    config: { access: ['admin', 'tenant-admin'], summary: 'Create a one-time registration code for the vault (valid 48 hours, shown once)' },
    schema: { params: VaultParams, response: { 201: VaultCredentials } },
    handler: async (request, reply) => reply.status(201).send(await createRegistrationCode(ctx, principalOf(request), request.params.vaultId)),
  });
}
