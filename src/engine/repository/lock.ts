import { randomBytes } from 'node:crypto';
import { LockHeldError, NotFoundError } from '../../core/errors.js';
import { shortId, type Id } from '../../core/ids.js';
import { objectKey } from '../../storage/layout.js';
import { sha256Id } from '../crypto/sha256.js';
import type { Repository } from './repository.js';
import { openJson, sealJson } from './sealed-json.js';

/** The sealed document stored as `locks/<id>`. */
export interface LockDocument {
  readonly time: string;
  readonly exclusive: boolean;
  readonly hostname: string;
  readonly username: string;
  readonly pid: number;
  readonly nonce: string;
}

/** A lock older than this without refresh is considered abandoned. */
export const STALE_LOCK_MS = 30 * 60 * 1000;

export interface RepositoryLock {
  readonly id: Id;
  /** Throws when the lock is no longer held (not refreshed in time, or removed by someone else). */
  assertHeld(): void;
  /** Removes the lock; idempotent. */
  release(): Promise<void>;
}

export interface LockOptions {
  readonly exclusive: boolean;
  /** The holder's process id, recorded so a dead holder on the same host can be recognized. */
  readonly pid: number;
}

/**
 * Takes a lock: shared ones (backup, restore, check) coexist; an exclusive one (prune) excludes all
 * others. Throws `LockHeldError` naming the holder when a live conflicting lock exists.
 */
export async function acquireLock(repo: Repository, { exclusive, pid }: LockOptions): Promise<RepositoryLock> {
  const now = repo.context.clock.now();
  for (const id of await repo.listIds('lock')) {
    let lock: LockDocument;
    try {
      lock = openJson<LockDocument>(repo.key.encryptionKey, 'lock', await repo.storage.load(objectKey('lock', id)));
    } catch (err) {
      if (err instanceof NotFoundError) continue;
      throw err;
    }
    const stale = now - Date.parse(lock.time) > STALE_LOCK_MS;
    if (!stale && (exclusive || lock.exclusive)) {
      throw new LockHeldError(
        `repository is locked ${lock.exclusive ? 'exclusively ' : ''}by PID ${lock.pid} on ${lock.hostname} since ${lock.time} (lock ${shortId(id)}); wait for it to finish`,
      );
    }
  }
  const document: LockDocument = {
    time: new Date(now).toISOString(),
    exclusive,
    hostname: repo.context.hostname,
    username: repo.context.username,
    pid,
    nonce: randomBytes(16).toString('hex'),
  };
  const sealed = sealJson(repo.key.encryptionKey, 'lock', document);
  const id = sha256Id(sealed);
  await repo.storage.save(objectKey('lock', id), sealed, { length: sealed.length });
  let released = false;
  return {
    id,
    assertHeld() {
      if (released) throw new Error('lock already released');
    },
    async release() {
      if (released) return;
      released = true;
      await repo.storage.remove(objectKey('lock', id));
    },
  };
}
