import type { Clock } from '../../core/clock.js';
import type { ServiceDatabase } from '../db/database.js';
import { runPeriodically, type RunningWorker, type WorkerLogger } from '../worker/periodic-worker.js';
import { sweepEndedSessions } from './portal-sessions.js';

/** How often `ferry serve` deletes ended portal sessions and used or expired sign-in links, by default. */
export const PORTAL_SWEEP_INTERVAL_MS = 5 * 60_000;

/**
 * Starts the sweep of ended portal sessions and used or expired sign-in links ({@link sweepEndedSessions}):
 * a pass at once, then one every `intervalMs` after the previous pass ended. What a pass deleted is logged
 * when it deleted anything; a failed pass is logged and the next one runs as usual. Several service
 * instances may run it on one database: each row is deleted once, by whichever gets to it.
 */
export function startPortalSessionSweeper(deps: { readonly db: ServiceDatabase; readonly clock: Clock }, options: { readonly intervalMs: number; readonly log: WorkerLogger }): RunningWorker {
  return runPeriodically(options.intervalMs, async () => {
    try {
      const swept = await sweepEndedSessions(deps.db, deps.clock.now());
      if (swept.sessions > 0 || swept.links > 0) options.log.info(swept, 'ended portal sessions and used or expired sign-in links deleted');
    } catch (err) {
      options.log.error({ err }, 'the portal session sweep failed; it runs again at the next interval');
    }
  });
}
