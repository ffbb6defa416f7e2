import type { LockOwnership } from '../vault-access.js';

/** A LockOwnership in a Map, for tests: follows the interface's contract but forgets everything on exit. */
export class MemoryLockOwnership implements LockOwnership {
  readonly #owners = new Map<string, string>();

  async record(vaultId: string, key: string, machineId: string): Promise<void> {
    this.#owners.set(entry(vaultId, key), machineId);
  }

  async owner(vaultId: string, key: string): Promise<string | undefined> {
    return this.#owners.get(entry(vaultId, key));
  }

  async forget(vaultId: string, key: string): Promise<void> {
    this.#owners.delete(entry(vaultId, key));
  }

  /** How many records are kept, so tests can check that removals forget theirs. */
  get size(): number {
    return this.#owners.size;
  }
}

/** Vault ids and object keys contain no NUL, so the pair maps to one string unambiguously. */
const entry = (vaultId: string, key: string): string => `${vaultId}\0${key}`;
