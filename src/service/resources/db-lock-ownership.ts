import type { ServiceContext } from '../context.js';
import type { LockOwnership } from '../vault-objects/vault-access.js';
import { forgetVaultLock, recordVaultLock, vaultLockOwner } from './vault-locks.js';

/** Lock ownership kept in the service database, so it outlives restarts and is shared by every instance. */
export function dbLockOwnership(ctx: Pick<ServiceContext, 'db' | 'clock'>): LockOwnership {
  return {
    record: (vaultId, key, machineId) => recordVaultLock(ctx, { vaultId, objectKey: key, machineId }),
    owner: async (vaultId, key) => (await vaultLockOwner(ctx.db, vaultId, key))?.machineId ?? undefined,
    forget: (vaultId, key) => forgetVaultLock(ctx.db, vaultId, key),
  };
}
