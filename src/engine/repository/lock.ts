import { setTimeout as sleep } from 'node:timers/promises';
import { LockHeldError, withContext } from '../../core/errors.js';
import { shortId, type Id } from '../../core/ids.js';
import { objectKey } from '../../storage/layout.js';
import { formatAge, loadLocks, newLockDocument, saveLockDocument, type LockRecord } from './lock-document.js';
import { LockKeeper, type LockTiming, type RepositoryLock } from './lock-keeper.js';
import { processIsAlive, REFRESH_LOCK_MS, STALE_LOCK_MS, staleReason, type StalenessPolicy } from './lock-staleness.js';
import type { Repository } from './repository.js';

export { formatAge, loadLocks, type LockDocument, type LockRecord } from './lock-document.js';
export type { RepositoryLock } from './lock-keeper.js';
export { LockLostError } from './lock-lost-error.js';
export { processIsAlive, REFRESH_LOCK_MS, STALE_LOCK_MS, staleReason, type StaleReason, type StalenessPolicy } from './lock-staleness.js';

/** How long a shared lock that meets a concurrently written exclusive lock waits for it to back off. */
export const LOCK_RACE_SETTLE_MS = 1000;

export interface LockOptions {
  /** Exclusive (prune, forget) excludes every other lock; shared ones (backup, restore, check…) coexist. */
  readonly exclusive: boolean;
  /** The holder's process id, recorded so a dead holder on the same host can be recognized. */
  readonly pid: number;
  /** How often the held lock is rewritten; default {@link REFRESH_LOCK_MS}, or `staleMs / 6` if smaller. */
  readonly refreshMs?: number;
  /** Age after which other processes' locks are ignored and ours counts as lost; default {@link STALE_LOCK_MS}. */
  readonly staleMs?: number;
  /** Whether a process of this host runs; default {@link processIsAlive}. Injected by tests. */
  readonly isProcessAlive?: (pid: number) => boolean;
  /** See {@link LOCK_RACE_SETTLE_MS}; tests shorten it. */
  readonly raceSettleMs?: number;
}

/**
 * Takes a lock on the repository and keeps it refreshed until `release()`.
 *
 * 1. List `locks/` and open every lock (one that vanished meanwhile is skipped; one that cannot be read
 *    aborts). Stale locks (see `staleReason`: older than `staleMs`, or of a dead process on this host)
 *    are ignored, never removed (that is `ferry unlock`'s job). A live lock that conflicts (ours or
 *    theirs is exclusive) → `LockHeldError` (exit 11) naming holder, host, PID and time.
 * 2. Save our lock.
 * 3. Re-check, for a conflicting lock written between 1 and 2. Every taker writes before it re-lists, so
 *    of two racing takers at least the later writer sees the other. An **exclusive** taker that sees a
 *    conflict backs off (removes its lock, `LockHeldError`). A **shared** taker that sees an exclusive
 *    lock cannot know whether that one saw it too: it waits `raceSettleMs` and lists again; if the
 *    exclusive lock is still there it backs off as well, if it left (it backed off) the shared lock is
 *    kept. So two conflicting takers never both hold their lock; at worst both fail and are retried.
 *    This needs a storage whose listing shows every completed save (all our back ends do).
 *
 * Rejects with `RangeError` when `refreshMs >= staleMs`, and with storage errors as they come.
 */
export async function acquireLock(repo: Repository, options: LockOptions): Promise<RepositoryLock> {
  const timing = lockTiming(options);
  const policy: StalenessPolicy = {
    staleMs: timing.staleMs,
    hostname: repo.context.hostname,
    isProcessAlive: options.isProcessAlive ?? processIsAlive,
  };
  const clock = repo.context.clock;
  const before = await findConflict(repo, options.exclusive, policy);
  if (before) throw heldError(before, clock.now(), timing.staleMs);
  const document = newLockDocument(repo, options.exclusive, options.pid, clock.now());
  const id = await saveLockDocument(repo, document);
  try {
    let conflict = await findConflict(repo, options.exclusive, policy, id);
    if (conflict && !options.exclusive) {
      await sleep(options.raceSettleMs ?? LOCK_RACE_SETTLE_MS);
      conflict = await findConflict(repo, false, policy, id);
    }
    if (conflict) throw heldError(conflict, clock.now(), timing.staleMs);
  } catch (err) {
    await backOff(repo, id, err);
  }
  const keeper = new LockKeeper(repo, id, document, timing);
  keeper.start();
  return keeper;
}

function lockTiming(options: LockOptions): LockTiming {
  const staleMs = options.staleMs ?? STALE_LOCK_MS;
  const refreshMs = options.refreshMs ?? Math.min(REFRESH_LOCK_MS, Math.floor(staleMs / 6));
  if (!(refreshMs > 0 && staleMs > refreshMs)) {
    throw new RangeError(`lock timing needs 0 < refreshMs < staleMs, got refreshMs ${refreshMs} and staleMs ${staleMs}`);
  }
  return { refreshMs, staleMs };
}

/** A live lock other than `except` that conflicts with a lock of ours; an exclusive one is preferred. */
async function findConflict(repo: Repository, exclusive: boolean, policy: StalenessPolicy, except?: Id): Promise<LockRecord | undefined> {
  const now = repo.context.clock.now();
  const live = (await loadLocks(repo, except)).filter((r) => staleReason(r.document, now, policy) === undefined);
  return live.find((r) => r.document.exclusive) ?? (exclusive ? live[0] : undefined);
}

/** Removes the lock we just wrote and rethrows `reason` (a conflict, or a failed re-check). */
async function backOff(repo: Repository, id: Id, reason: unknown): Promise<never> {
  try {
    await repo.storage.remove(objectKey('lock', id));
  } catch (err) {
    const message = reason instanceof Error ? reason.message : String(reason);
    throw withContext(`${message}; removing our own lock ${shortId(id)} failed too`, err);
  }
  throw reason;
}

function heldError(holder: LockRecord, now: number, staleMs: number): LockHeldError {
  const { id, document: d } = holder;
  return new LockHeldError(
    `the repository is locked${d.exclusive ? ' exclusively' : ''} by PID ${d.pid} on ${d.hostname} (user ${d.username}, lock ${shortId(id)}), ` +
      `held since at least ${d.time} (${formatAge(now - Date.parse(d.time))} ago): wait for it to finish; if that process is gone, ` +
      `\`ferry unlock\` removes its lock once it is ${formatAge(staleMs)} without refresh, \`ferry unlock --remove-all\` at once`,
  );
}
