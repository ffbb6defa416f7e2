import { UserError } from '../core/errors.js';
import { looksLikeRecordId } from '../contract/wire.js';
import type { ImportJob } from '../contract/import-job.js';
import type { StorageAccount } from '../service/resources/storage-accounts.js';
import type { Tenant } from '../service/resources/tenants.js';
import type { Vault } from '../service/resources/vaults.js';
import type { ServiceClient } from './service-client.js';

/*
 * The CLI takes a name or an id wherever the API takes an id. Names never look like ids (the service
 * refuses such names): an id is asked for directly, so the service's answer (404 for what the token may
 * not see) reaches the user; a name is looked up in the list the token may see.
 */

/**
 * The tenant `ref` names. Without `ref`, the only tenant the token sees (a tenant-admin token's own);
 * an admin must name one.
 */
export async function resolveTenant(client: ServiceClient, ref: string | undefined): Promise<Tenant> {
  if (ref !== undefined && looksLikeRecordId(ref)) return client.getTenant(ref.toLowerCase());
  const tenants = await client.listTenants();
  if (ref === undefined) {
    if (tenants.length === 1) return tenants[0]!;
    throw new UserError('name the tenant with --tenant NAME (ferry tenant list shows them)');
  }
  const tenant = tenants.find((t) => t.name === ref);
  if (tenant === undefined) throw new UserError(`no tenant "${ref}" that this token may see (ferry tenant list shows them)`);
  return tenant;
}

/** The tenant's storage account with this name or id. */
export async function resolveStorageAccount(client: ServiceClient, tenant: Tenant, ref: string): Promise<StorageAccount> {
  if (looksLikeRecordId(ref)) return inTenant(await client.getStorageAccount(ref.toLowerCase()), tenant, 'storage account');
  const account = (await client.listStorageAccounts(tenant.id)).find((a) => a.name === ref);
  if (account === undefined) throw new UserError(`no storage account "${ref}" in tenant "${tenant.name}" (ferry storage-account list --tenant ${tenant.name})`);
  return account;
}

/** The tenant's vault with this name or id. */
export async function resolveVault(client: ServiceClient, tenant: Tenant | undefined, ref: string): Promise<Vault> {
  if (looksLikeRecordId(ref)) return inTenant(await client.getVault(ref.toLowerCase()), tenant, 'vault');
  if (tenant === undefined) throw new UserError('name the tenant with --tenant NAME, or give the vault by id');
  const vault = (await client.listVaults(tenant.id)).find((v) => v.name === ref);
  if (vault === undefined) throw new UserError(`no vault "${ref}" in tenant "${tenant.name}" (ferry vault list --tenant ${tenant.name})`);
  return vault;
}

function inTenant<T extends { readonly id: string; readonly tenantId: string }>(record: T, tenant: Tenant | undefined, what: string): T {
  if (tenant !== undefined && record.tenantId !== tenant.id) throw new UserError(`${what} ${record.id} is not in tenant "${tenant.name}"`);
  return record;
}

/**
 * The import job `ref` names: an id is asked for directly; a name (unique in its tenant) is looked up
 * among the jobs the token may see: for admins and operators in every tenant unless `tenantRef` narrows
 * it (needed only when the name is in several), for a tenant-admin in its tenant, for an agent among its
 * vault's open job, for a job token its own job.
 */
export async function resolveImportJob(client: ServiceClient, ref: string, tenantRef?: string): Promise<ImportJob> {
  if (looksLikeRecordId(ref)) return client.getImportJob(ref.toLowerCase());
  const me = await client.whoami();
  switch (me.role) {
    case 'agent': {
      const seed = me.vaultId === undefined ? null : (await client.getVault(me.vaultId)).seed;
      if (seed?.jobName !== ref) throw new UserError(`this machine's vault has no open import job "${ref}"${seed ? ` (its open job is "${seed.jobName}")` : ''}; give the job's id`);
      return client.getImportJob(seed.jobId);
    }
    case 'job': {
      const own = await client.getImportJob(me.jobId ?? '');
      if (own.name !== ref) throw new UserError(`this job token is for import job "${own.name}", not "${ref}"`);
      return own;
    }
    default: {
      const tenantId = tenantRef === undefined ? undefined : looksLikeRecordId(tenantRef) ? tenantRef.toLowerCase() : (await resolveTenant(client, tenantRef)).id;
      const jobs = await client.findImportJobs({ name: ref, ...(tenantId !== undefined ? { tenantId } : {}) });
      if (jobs.length === 1) return jobs[0]!;
      if (jobs.length === 0) throw new UserError(`no import job "${ref}" that this token may see${tenantRef !== undefined ? ` in tenant "${tenantRef}"` : ''} (ferry job list shows them)`);
      throw new UserError(`${jobs.length} import jobs are named "${ref}" (tenants ${jobs.map((j) => j.tenantId).join(', ')}): name the tenant with --tenant T, or give the job's id`);
    }
  }
}
