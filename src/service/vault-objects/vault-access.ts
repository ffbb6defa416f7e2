/**
 * The seam between the vault object routes and the rest of the service: what authentication resolves a
 * request to, and where the service remembers which machine created which lock. The integrator backs these
 * with the real token check and the database; tests use `testing/memory-lock-ownership.ts`.
 */
import type { Storage } from '../../storage/storage.js';
import type { ObjectAccess } from './object-access-policy.js';

/** A vault as one authenticated request may use it. */
export interface ResolvedVault {
  /** The vault's repository storage (in its storage account). Owned by the resolver: the routes never close it. */
  readonly storage: Storage;
  /** `full` for tenant-admin and admin tokens; `append-only` for the vault's agent. */
  readonly access: ObjectAccess;
  /** The agent's machine; set for agents, whose locks are owned per machine. */
  readonly machineId?: string;
  /** Who the request authenticated as, for the provenance of what it stores; absent where none is kept (imports). */
  readonly writer?: ObjectWriter;
}

/** Who stores an object, as the service authenticated them (never what the client says about itself). */
export interface ObjectWriter {
  readonly role: 'admin' | 'tenant-admin' | 'agent';
  readonly tokenId: string;
  /** The agent's machine; set exactly for `agent`. */
  readonly machineId?: string;
}

/**
 * Where the service records which objects of a vault arrived when and from whom (db-backed: records must
 * outlive restarts). Implementations keep what they need (the service keeps snapshots only) and ignore
 * other keys. Both methods are idempotent.
 */
export interface ObjectProvenance {
  /**
   * Called after `writer` stored `key` in vault `vaultId` (not for a re-send that stored nothing). An
   * existing record is kept: the first arrival is the one that counts.
   */
  stored(vaultId: string, key: string, writer: ObjectWriter): Promise<void>;
  /** Called after `key` was removed from vault `vaultId` (also when it was absent). */
  removed(vaultId: string, key: string): Promise<void>;
}

/**
 * Which machine created which lock object of a vault. Records must outlive a server restart and be shared
 * by every server instance (db-backed), or an agent could not release a lock after a restart.
 * All methods are idempotent.
 */
export interface LockOwnership {
  /** Records that `machineId` created the lock object `key` of vault `vaultId` (replacing any record). */
  record(vaultId: string, key: string, machineId: string): Promise<void>;
  /** The machine that created `key`, or undefined when none is recorded. */
  owner(vaultId: string, key: string): Promise<string | undefined>;
  /** Drops the record of `key`; forgetting an unknown key resolves. */
  forget(vaultId: string, key: string): Promise<void>;
}
