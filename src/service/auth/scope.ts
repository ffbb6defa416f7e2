import { NotFoundError } from '../../core/errors.js';
import type { Principal } from './principal.js';

/**
 * Per-record visibility, checked after the route's role list (route-access.ts) let the request in.
 * A record the principal may not see is answered exactly like a record that does not exist
 * (`NotFoundError`, 404), so ids of other tenants' records cannot be probed.
 */

/** Admins see every tenant; a tenant-scoped token (tenant-admin, agent, job) only its own. */
export function canSeeTenant(principal: Principal, tenantId: string): boolean {
  if (principal.role === 'admin') return true;
  if (principal.role === 'tenant-admin') return principal.tenantId === tenantId;
  return false;
}

/** Admins and the tenant's tenant-admins see a vault; an agent token only the one vault it is bound to. */
export function canSeeVault(principal: Principal, vault: { readonly id: string; readonly tenantId: string }): boolean {
  if (principal.role === 'agent') return principal.vaultId === vault.id && principal.tenantId === vault.tenantId;
  return canSeeTenant(principal, vault.tenantId);
}

/**
 * Returns `record` when it exists and `visible` says the principal may see it, otherwise throws
 * `NotFoundError(notFoundMessage)`: the same answer in both cases.
 */
export function visibleOrNotFound<T>(record: T | undefined, visible: (record: T) => boolean, notFoundMessage: string): T {
  if (record === undefined || !visible(record)) throw new NotFoundError(notFoundMessage);
  return record;
}

/**
 * Who sees an import job: admins and operators (the datacenter) every job; a tenant-admin its tenant's;
 * an agent the jobs of its own vault; a job token only its own job.
 */
export function canSeeJob(principal: Principal, job: { readonly id: string; readonly tenantId: string; readonly vaultId: string }): boolean {
  switch (principal.role) {
    case 'admin':
    case 'operator':
      return true;
    case 'tenant-admin':
      return principal.tenantId === job.tenantId;
    case 'agent':
      return principal.vaultId === job.vaultId && principal.tenantId === job.tenantId;
    case 'job':
      return principal.jobId === job.id;
  }
}
