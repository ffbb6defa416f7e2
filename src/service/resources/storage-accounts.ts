import { ForbiddenError } from '../../core/errors.js';
import type { Principal } from '../auth/principal.js';
import { canSeeTenant, visibleOrNotFound } from '../auth/scope.js';
import { formatBackendLocation, parseBackendUrl } from '../backend-location.js';
import type { ServiceContext } from '../context.js';
import { insertOrExplain } from '../db/constraint-errors.js';
import type { StorageAccountsTable } from '../db/schema.js';
import { isoTime, newRecordId } from '../ids.js';
import { getTenant } from './tenants.js';

/** A tenant's storage (glossary: storage account); vaults live in containers inside it. */
export interface StorageAccount {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  /** The back-end URL, or null for the default: the service's data directory. */
  readonly backend: string | null;
  readonly createdAt: string;
}

export interface StorageAccountSpec {
  readonly name: string;
  readonly backend?: string;
}

/**
 * Creates a storage account in the tenant. Only an admin may name a back end (a filesystem path on the
 * service's host is the admin's to give out): a tenant-admin that does gets `ForbiddenError`. An invalid or
 * not yet supported back-end URL is a `UserError`; a back end that overlaps the service's data directory
 * or another account's back end (real paths) `BackendOverlapError`; a taken name `AlreadyExistsError`; an
 * invisible tenant `NotFoundError`.
 */
export async function createStorageAccount(ctx: ServiceContext, principal: Principal, tenantId: string, spec: StorageAccountSpec): Promise<StorageAccount> {
  await getTenant(ctx, principal, tenantId);
  if (spec.backend !== undefined && principal.role !== 'admin') {
    throw new ForbiddenError("only an admin may choose a storage back end; leave it out to use the service's own storage");
  }
  const backend = spec.backend === undefined ? null : formatBackendLocation(parseBackendUrl(spec.backend));
  const row: StorageAccountsTable = {
    id: newRecordId(ctx.random),
    tenant_id: tenantId,
    name: spec.name,
    backend,
    created_at: isoTime(ctx.clock.now()),
  };
  // In one transaction, so that two accounts created at the same moment cannot both pass the isolation check.
  // (An audit record belongs here when an admin sets a back end.)
  await ctx.db.transaction().execute(async (trx) => {
    await ctx.backends.checkNewAccount(trx, row);
    await insertOrExplain(() => trx.insertInto('storage_accounts').values(row).execute(), `the tenant already has a storage account named "${spec.name}"`);
  });
  return toStorageAccount(row);
}

/** The tenant's storage accounts by name; `NotFoundError` for an invisible tenant. */
export async function listStorageAccounts(ctx: ServiceContext, principal: Principal, tenantId: string): Promise<StorageAccount[]> {
  await getTenant(ctx, principal, tenantId);
  const rows = await ctx.db.selectFrom('storage_accounts').selectAll().where('tenant_id', '=', tenantId).orderBy('name').execute();
  return rows.map(toStorageAccount);
}

/** The storage account, or `NotFoundError` when it does not exist or belongs to a tenant the principal may not see. */
export async function getStorageAccount(ctx: ServiceContext, principal: Principal, storageAccountId: string): Promise<StorageAccount> {
  const row = await ctx.db.selectFrom('storage_accounts').selectAll().where('id', '=', storageAccountId).executeTakeFirst();
  return toStorageAccount(
    visibleOrNotFound(row, (r) => canSeeTenant(principal, r.tenant_id), `storage account ${storageAccountId} not found`),
  );
}

function toStorageAccount(row: StorageAccountsTable): StorageAccount {
  return { id: row.id, tenantId: row.tenant_id, name: row.name, backend: row.backend, createdAt: row.created_at };
}
