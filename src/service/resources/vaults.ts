import { AlreadyExistsError, NotFoundError } from '../../core/errors.js';
import { recordAudit } from '../audit/audit-log.js';
import { actorOf, type Principal } from '../auth/principal.js';
import { checkContainerName } from '../backend-location.js';
import { canSeeVault, visibleOrNotFound } from '../auth/scope.js';
import type { ServiceContext } from '../context.js';
import { insertOrExplain } from '../db/constraint-errors.js';
import type { VaultsTable } from '../db/schema.js';
import { isoTime, newRecordId } from '../ids.js';
import { readVaultSeed, type VaultSeed } from '../jobs/job-records.js';
import { isJobState } from '../../contract/job-states.js';
import { getTenant } from './tenants.js';

/** The repository a tenant's machines back up to, in a container of one of the tenant's storage accounts. */
export interface Vault {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  readonly storageAccountId: string;
  /** The folder (prefix) in the storage account that holds the repository. */
  readonly container: string;
  readonly createdAt: string;
}

/** A vault as `GET /v1/vaults/:vaultId` shows it: with its pending offline seed (its open import job), if any. */
export interface VaultDetails extends Vault {
  readonly seed: VaultSeed | null;
}

export interface VaultSpec {
  readonly name: string;
  readonly storageAccountId: string;
  /** Defaults to the vault's id. */
  readonly container?: string;
}

/**
 * Creates a vault in a storage account of the same tenant. `NotFoundError` when the tenant is invisible
 * or the storage account is not one of the tenant's; `AlreadyExistsError` when the name is taken in the
 * tenant or the container in the storage account. The container itself appears with the first object.
 */
export async function createVault(ctx: ServiceContext, principal: Principal, tenantId: string, spec: VaultSpec): Promise<Vault> {
  const tenant = await getTenant(ctx, principal, tenantId);
  const account = await ctx.db
    .selectFrom('storage_accounts')
    .select('id')
    .where('id', '=', spec.storageAccountId)
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
  if (account === undefined) throw new NotFoundError(`storage account ${spec.storageAccountId} not found in tenant "${tenant.name}"`);
  const id = newRecordId(ctx.random);
  const container = spec.container ?? id;
  checkContainerName(container);
  const containerTaken = await ctx.db
    .selectFrom('vaults')
    .select('id')
    .where('storage_account_id', '=', spec.storageAccountId)
    .where('container', '=', container)
    .executeTakeFirst();
  if (containerTaken !== undefined) throw new AlreadyExistsError(`container "${container}" of this storage account already holds a vault`);
  const row: VaultsTable = {
    id,
    tenant_id: tenantId,
    storage_account_id: spec.storageAccountId,
    name: spec.name,
    container,
    created_at: isoTime(ctx.clock.now()),
  };
  const audit = { actor: actorOf(principal), tenantId, action: 'vault.create', target: { type: 'vault', id }, detail: { name: spec.name, storageAccountId: spec.storageAccountId, container } } as const;
  await insertOrExplain(
    () => ctx.db.transaction().execute(async (trx) => {
      await trx.insertInto('vaults').values(row).execute();
      await recordAudit({ ...ctx, db: trx }, audit);
    }),
    `the tenant already has a vault named "${spec.name}"`,
  );
  return toVault(row);
}

/** The tenant's vaults by name; `NotFoundError` for an invisible tenant. */
export async function listVaults(ctx: ServiceContext, principal: Principal, tenantId: string): Promise<Vault[]> {
  await getTenant(ctx, principal, tenantId);
  const rows = await ctx.db.selectFrom('vaults').selectAll().where('tenant_id', '=', tenantId).orderBy('name').execute();
  return rows.map(toVault);
}

/**
 * The vault, or `NotFoundError` when it does not exist or the principal may not see it (another tenant's
 * vault; for an agent, any vault but its own).
 */
export async function getVault(ctx: ServiceContext, principal: Principal, vaultId: string): Promise<Vault> {
  const row = await ctx.db.selectFrom('vaults').selectAll().where('id', '=', vaultId).executeTakeFirst();
  const vault = row === undefined ? undefined : toVault(row);
  return visibleOrNotFound(vault, (v) => canSeeVault(principal, v), `vault ${vaultId} not found`);
}

/** {@link getVault} with the vault's pending offline seed. */
export async function getVaultDetails(ctx: ServiceContext, principal: Principal, vaultId: string): Promise<VaultDetails> {
  const vault = await getVault(ctx, principal, vaultId);
  return { ...vault, seed: await readVaultSeed(ctx.db, vault.id) };
}

/**
 * The pending offline seeds of the tenant's vaults, by vault id, in one query (a vault without a seed
 * pending has no entry); `NotFoundError` for an invisible tenant, like {@link listVaults}.
 */
export async function listVaultSeeds(ctx: ServiceContext, principal: Principal, tenantId: string): Promise<ReadonlyMap<string, VaultSeed>> {
  await getTenant(ctx, principal, tenantId);
  const rows = await ctx.db
    .selectFrom('import_jobs')
    .select(['id', 'name', 'state', 'open_vault_id'])
    .where('tenant_id', '=', tenantId)
    .where('open_vault_id', 'is not', null)
    .execute();
  const seeds = new Map<string, VaultSeed>();
  for (const row of rows) {
    if (!isJobState(row.state)) throw new Error(`import job ${row.id} has an unknown state ${row.state}`);
    if (row.open_vault_id !== null) seeds.set(row.open_vault_id, { jobId: row.id, jobName: row.name, state: row.state });
  }
  return seeds;
}

function toVault(row: VaultsTable): Vault {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    storageAccountId: row.storage_account_id,
    container: row.container,
    createdAt: row.created_at,
  };
}
