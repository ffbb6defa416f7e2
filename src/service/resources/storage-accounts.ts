import { ForbiddenError } from '../../core/errors.js';
import { auditFailure, recordAudit } from '../audit/audit-log.js';
import { actorOf, type Principal } from '../auth/principal.js';
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
 * not yet supported back-end URL, or an object store the service has no credentials for, is a `UserError`; a back end that overlaps the service's data directory
 * or another account's back end (real paths) `BackendOverlapError`; a taken name `AlreadyExistsError`; an
 * invisible tenant `NotFoundError`.
 */
export async function createStorageAccount(ctx: ServiceContext, principal: Principal, tenantId: string, spec: StorageAccountSpec): Promise<StorageAccount> {
  await getTenant(ctx, principal, tenantId);
  const audit = { actor: actorOf(principal), tenantId, action: 'storage-account.create', detail: { name: spec.name, backend: spec.backend ?? null } } as const;
  if (spec.backend !== undefined && principal.role !== 'admin') {
    const refusal = new ForbiddenError("only an admin may choose a storage back end; leave it out to use the service's own storage");
    await recordAudit(ctx, { ...audit, target: { type: 'storage-account', id: null }, outcome: 'refused', detail: { ...audit.detail, error: refusal.message } });
    throw refusal;
  }
  const location = spec.backend === undefined ? null : parseBackendUrl(spec.backend);
  // Refused now rather than at the first backup: an object store's credentials must be in the service's environment.
  if (location !== null) await ctx.openBackend(location).close();
  const backend = location === null ? null : formatBackendLocation(location);
  const row: StorageAccountsTable = {
    id: newRecordId(ctx.random),
    tenant_id: tenantId,
    name: spec.name,
    backend,
    created_at: isoTime(ctx.clock.now()),
  };
  // In one transaction, so that two accounts created at the same moment cannot both pass the isolation check.
  await ctx.db
    .transaction()
    .execute(async (trx) => {
      await ctx.backends.checkNewAccount(trx, row);
      await insertOrExplain(() => trx.insertInto('storage_accounts').values(row).execute(), `the tenant already has a storage account named "${spec.name}"`);
      await recordAudit({ ...ctx, db: trx }, { ...audit, target: { type: 'storage-account', id: row.id }, detail: { ...audit.detail, backend } });
    })
    .catch(auditFailure(ctx, { ...audit, target: { type: 'storage-account', id: null } }));
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
