import { UserError } from '../../core/errors.js';

/**
 * The repository lock this process held is no longer trustworthy: it was not refreshed within the stale
 * time (the process was suspended, or the storage unreachable), or another process removed it (e.g.
 * `ferry unlock --remove-all`). Someone may have judged the lock stale and changed the repository (a
 * prune may have deleted packs this process wrote), so the operation must stop without committing
 * anything, in particular without writing a snapshot.
 *
 * It is a `UserError` (one line, no stack) with exit code 11, the code of every lock failure, so scripts
 * that retry on 11 retry a run that lost its lock too. It lives in the engine, not in core, because only
 * the lock code raises it.
 */
export class LockLostError extends UserError {
  override readonly code = 'LOCK_LOST';
  override readonly exitCode = 11;
}
