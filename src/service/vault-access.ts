import type { FastifyRequest } from 'fastify';
import { ForbiddenError } from '../core/errors.js';
import type { Storage } from '../storage/storage.js';
import { releaseAfterResponse } from './api/request-resources.js';
import { principalOf } from './api/route-access.js';
import type { ServiceContext } from './context.js';
import type { ObjectWriter } from './vault-objects/vault-access.js';
import { getVault } from './resources/vaults.js';
import { openVaultStorage } from './resources/vault-storage.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The service's shared context (db, clock, randomness, back ends, metrics), set by buildServer. */
    service: ServiceContext;
  }
}

/** What a request may do with a vault's objects, and the Storage holding them. */
export interface VaultObjectAccess {
  readonly vaultId: string;
  readonly tenantId: string;
  /** The vault's repository; the service closes it when the response is done (closing it yourself is harmless). */
  readonly storage: Storage;
  /**
   * `full`: an admin, or a tenant-admin of the vault's tenant (may also delete and overwrite).
   * `append-only`: the vault's agent (may add objects, never delete or overwrite, except lock objects
   * its own machine saved: see resources/vault-locks.ts).
   */
  readonly access: 'full' | 'append-only';
  /** The agent's machine; present exactly when `access` is `append-only`. */
  readonly machineId?: string;
  /** Who stores what this request uploads (the provenance of snapshots: resources/snapshot-provenance.ts). */
  readonly writer: ObjectWriter;
}

/**
 * Decides what the authenticated request may do with vault `vaultId`'s objects and opens its storage.
 * The route must declare `config.access` including the roles admin, tenant-admin and agent.
 * Throws `AuthenticationError` (401) without a principal, `ForbiddenError` (403) for other roles (job,
 * operator), `NotFoundError` (404) for a vault that does not exist, belongs to another tenant, or (for
 * an agent) is not the agent's vault, and `UserError` when the vault's back end is not supported.
 */
export async function resolveVaultForObjects(request: FastifyRequest, vaultId: string): Promise<VaultObjectAccess> {
  const ctx = request.server.service;
  const principal = principalOf(request);
  if (principal.role !== 'admin' && principal.role !== 'tenant-admin' && principal.role !== 'agent') {
    throw new ForbiddenError(`a ${principal.role} token may not read or write vault objects`);
  }
  const vault = await getVault(ctx, principal, vaultId);
  const storage = await openVaultStorage(ctx, vault);
  releaseAfterResponse(request, () => storage.close());
  const writer: ObjectWriter = { role: principal.role, tokenId: principal.tokenId, ...(principal.machineId ? { machineId: principal.machineId } : {}) };
  if (principal.role === 'agent') {
    return { vaultId: vault.id, tenantId: vault.tenantId, storage, access: 'append-only', machineId: principal.machineId!, writer };
  }
  return { vaultId: vault.id, tenantId: vault.tenantId, storage, access: 'full', writer };
}
