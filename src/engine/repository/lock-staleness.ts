import { isErrno } from '../../core/errors.js';
import type { LockDocument } from './lock-document.js';

/** A lock whose time is older than this (by the reader's clock) is stale: its holder stopped refreshing it. */
export const STALE_LOCK_MS = 30 * 60 * 1000;

/** How often a held lock is rewritten with a new time; well below {@link STALE_LOCK_MS}. */
export const REFRESH_LOCK_MS = 5 * 60 * 1000;

/** Why a lock is stale: not refreshed in time, or its process on this very host no longer runs. */
export type StaleReason = 'expired' | 'process-gone';

/** What a reader needs to judge other processes' locks. */
export interface StalenessPolicy {
  /** Age (now minus the lock's time) above which a lock is stale. */
  readonly staleMs: number;
  /** This host's name: only locks written on it can be judged by PID. */
  readonly hostname: string;
  /** Whether a process of this host runs; see {@link processIsAlive}. */
  readonly isProcessAlive: (pid: number) => boolean;
}

/**
 * Returns why `lock` is stale at `now`, or undefined when it must be respected. A lock dated in the
 * future (clock skew) is not stale. PIDs are compared only on the same host name: a PID of another
 * machine says nothing here (hosts sharing a name, or PID namespaces hiding processes, make this unsafe,
 * which is why `FERRY_HOSTNAME` must be unique per machine or container).
 */
export function staleReason(lock: LockDocument, now: number, policy: StalenessPolicy): StaleReason | undefined {
  if (now - Date.parse(lock.time) > policy.staleMs) return 'expired';
  if (lock.hostname === policy.hostname && !policy.isProcessAlive(lock.pid)) return 'process-gone';
  return undefined;
}

/**
 * True unless signal 0 to `pid` fails with ESRCH (no such process). EPERM (the process exists but
 * belongs to another user) and any other outcome count as alive, and so do PIDs that are not positive
 * integers (0 and negatives would address process groups): when in doubt, a lock is respected.
 */
export function processIsAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return !isErrno(err, 'ESRCH');
  }
}
