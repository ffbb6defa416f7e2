import type { Clock } from '../../core/clock.js';
import type { ServiceDatabase } from '../db/database.js';
import { isoTime } from '../ids.js';

/**
 * Who saved which lock object of a vault. An agent is append-only, except that it may remove the lock
 * objects its own machine saved: the vault object routes record every `locks/…` save here and ask
 * {@link mayRemoveLock} before a removal.
 */
export interface VaultLockOwner {
  /** The machine whose agent saved the lock, or null when a tenant-admin or admin did. */
  readonly machineId: string | null;
  readonly createdAt: string;
}

/**
 * Records that `machineId` (null: a full-access principal) saved the lock object `objectKey` in the vault.
 * Saving the same key again replaces the owner, so a lock refresh by its owner keeps it the owner.
 */
export async function recordVaultLock(
  deps: { readonly db: ServiceDatabase; readonly clock: Clock },
  lock: { readonly vaultId: string; readonly objectKey: string; readonly machineId: string | null },
): Promise<void> {
  const createdAt = isoTime(deps.clock.now());
  await deps.db
    .insertInto('vault_locks')
    .values({ vault_id: lock.vaultId, object_key: lock.objectKey, machine_id: lock.machineId, created_at: createdAt })
    .onConflict((oc) => oc.columns(['vault_id', 'object_key']).doUpdateSet({ machine_id: lock.machineId, created_at: createdAt }))
    .execute();
}

/** The recorded owner of a lock object, or undefined when none is recorded. */
export async function vaultLockOwner(db: ServiceDatabase, vaultId: string, objectKey: string): Promise<VaultLockOwner | undefined> {
  const row = await db
    .selectFrom('vault_locks')
    .select(['machine_id', 'created_at'])
    .where('vault_id', '=', vaultId)
    .where('object_key', '=', objectKey)
    .executeTakeFirst();
  return row === undefined ? undefined : { machineId: row.machine_id, createdAt: row.created_at };
}

/** Forgets the record of a lock object (after it was removed). Idempotent. */
export async function forgetVaultLock(db: ServiceDatabase, vaultId: string, objectKey: string): Promise<void> {
  await db.deleteFrom('vault_locks').where('vault_id', '=', vaultId).where('object_key', '=', objectKey).execute();
}

/**
 * The rule for removing a lock object: full access may remove any; an append-only agent only one whose
 * recorded owner is its own machine (an unrecorded lock is not its own).
 */
export function mayRemoveLock(
  requester: { readonly access: 'full' | 'append-only'; readonly machineId?: string },
  owner: VaultLockOwner | undefined,
): boolean {
  if (requester.access === 'full') return true;
  return owner !== undefined && owner.machineId !== null && owner.machineId === requester.machineId;
}
