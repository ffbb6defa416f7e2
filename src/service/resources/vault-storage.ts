import { NotFoundError } from '../../core/errors.js';
import { CONFIG_KEY } from '../../storage/layout.js';
import { objectExists } from '../../storage/object-exists.js';
import type { Storage } from '../../storage/storage.js';
import type { BackendLocation } from '../backend-location.js';
import type { ServiceContext } from '../context.js';

/**
 * Opens the Storage that holds a vault's repository: the vault's container in its storage account, through
 * the back end the composition root picks for the account's location. The caller closes it. Rejects with
 * `UserError` when the account's back end is not supported by this version.
 */
export async function openVaultStorage(ctx: ServiceContext, vault: { readonly storageAccountId: string; readonly container: string }): Promise<Storage> {
  return ctx.openBackend(await containerLocationOf(ctx, vault));
}

/**
 * Where a container of a storage account lives (a vault's, or an import job's), by its real path, once the
 * isolation rules allow it (backend-isolation.ts): `BackendOverlapError` when the account overlaps the data
 * directory or another account, or the container is not a plain folder inside it.
 */
export async function containerLocationOf(ctx: ServiceContext, where: { readonly storageAccountId: string; readonly container: string }): Promise<BackendLocation> {
  const account = await ctx.db
    .selectFrom('storage_accounts')
    .select(['id', 'tenant_id', 'backend'])
    .where('id', '=', where.storageAccountId)
    .executeTakeFirstOrThrow(() => new NotFoundError(`storage account ${where.storageAccountId} not found`));
  return ctx.backends.confinedContainer(ctx.db, account, where.container);
}

/** True when the vault's repository has been initialized (its `config` object exists). */
export async function isRepositoryInitialized(ctx: ServiceContext, vault: { readonly storageAccountId: string; readonly container: string }): Promise<boolean> {
  const storage = await openVaultStorage(ctx, vault);
  try {
    return await objectExists(storage, CONFIG_KEY);
  } finally {
    await storage.close();
  }
}
