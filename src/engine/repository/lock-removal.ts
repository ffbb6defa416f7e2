import { IntegrityError } from '../../core/errors.js';
import type { Id } from '../../core/ids.js';
import { objectKey } from '../../storage/layout.js';
import { loadLockDocument, type LockDocument } from './lock-document.js';
import { processIsAlive, STALE_LOCK_MS, staleReason, type StaleReason } from './lock-staleness.js';
import type { Repository } from './repository.js';

export interface LockRemovalOptions {
  /** Remove every lock, live ones and unreadable ones included (`ferry unlock --remove-all`). */
  readonly all: boolean;
  /** See `LockOptions.staleMs`; default {@link STALE_LOCK_MS}. */
  readonly staleMs?: number;
  /** See `LockOptions.isProcessAlive`; default {@link processIsAlive}. */
  readonly isProcessAlive?: (pid: number) => boolean;
}

/** One lock object as `removeLocks` found it. */
export interface LockReport {
  readonly id: Id;
  /** Absent when the lock could not be read (see `error`). */
  readonly document?: LockDocument;
  /** Why the lock is stale; absent for a live or unreadable lock. */
  readonly staleReason?: StaleReason;
  /** Why the lock could not be read (it does not authenticate or is not a lock document). */
  readonly error?: string;
}

export interface LockRemovalResult {
  readonly removed: LockReport[];
  readonly kept: LockReport[];
}

/**
 * Removes stale locks (all locks with `all`), judged by the repository's clock and host name, and takes
 * no lock itself. A lock that vanishes meanwhile is left out of both lists. A lock that cannot be read
 * (`IntegrityError`) is kept and reported unless `all`. Other storage errors reject; locks removed
 * before that stay removed, and running it again is safe.
 *
 * Removing a live lock (`all`) is for a holder known to be gone: a running holder notices at its next
 * refresh and stops without committing (`LockLostError`), but what it wrote before may be pruned.
 */
export async function removeLocks(repo: Repository, options: LockRemovalOptions): Promise<LockRemovalResult> {
  const policy = {
    staleMs: options.staleMs ?? STALE_LOCK_MS,
    hostname: repo.context.hostname,
    isProcessAlive: options.isProcessAlive ?? processIsAlive,
  };
  const removed: LockReport[] = [];
  const kept: LockReport[] = [];
  for (const id of await repo.listIds('lock')) {
    let report: LockReport;
    try {
      const document = await loadLockDocument(repo, id);
      if (!document) continue;
      const reason = staleReason(document, repo.context.clock.now(), policy);
      report = reason ? { id, document, staleReason: reason } : { id, document };
    } catch (err) {
      if (!(err instanceof IntegrityError)) throw err;
      report = { id, error: err.message };
    }
    if (options.all || report.staleReason) {
      await repo.storage.remove(objectKey('lock', id));
      removed.push(report);
    } else {
      kept.push(report);
    }
  }
  const byTime = (a: LockReport, b: LockReport): number => (a.document?.time ?? '').localeCompare(b.document?.time ?? '') || a.id.localeCompare(b.id);
  return { removed: removed.sort(byTime), kept: kept.sort(byTime) };
}
