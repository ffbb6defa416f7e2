import { UserError } from '../core/errors.js';
import { looksLikeRecordId } from '../service/ids.js';
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
