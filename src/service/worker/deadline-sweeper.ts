import { expireOverdueJobs, markNeverReceivedDisks } from '../jobs/deadline-sweep.js';
import type { JobStoreDeps } from '../jobs/job-store.js';
import { runPeriodically, type RunningWorker, type WorkerLogger } from './periodic-worker.js';

/** Sweep interval bounds: often enough for short test deadlines, at most once a minute. */
const MIN_INTERVAL_MS = 1000;
const MAX_INTERVAL_MS = 60_000;

/**
 * The default sweep interval for a tracking deadline: a tenth of it, between 1 s and 1 min (so a 14-day
 * deadline is swept every minute, and a job is deleted at most a tenth of its deadline late).
 */
export function sweepIntervalFor(trackingDeadlineMs: number): number {
  return Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, Math.floor(trackingDeadlineMs / 10)));
}

/**
 * Starts the tracking deadline sweep (jobs/deadline-sweep.ts), which also marks disks never received: a pass at once, then one every
 * `intervalMs` after the previous pass ended. Each deleted job is logged; a failed pass is logged and
 * the next one runs as usual. Several service instances may run it on one database: the database
 * decides which one deletes each job.
 */
export function startDeadlineSweeper(deps: JobStoreDeps, options: { readonly intervalMs: number; readonly log: WorkerLogger }): RunningWorker {
  return runPeriodically(options.intervalMs, async () => {
    try {
      for (const job of await expireOverdueJobs(deps)) {
        options.log.info({ jobId: job.id, tenantId: job.tenantId, trackingDeadline: job.trackingDeadline }, 'import job deleted: no carrier and tracking number by its tracking deadline');
      }
      for (const job of await markNeverReceivedDisks(deps)) {
        options.log.info({ jobId: job.id, tenantId: job.tenantId, state: job.state }, 'disks of an import job marked NeverReceived: not ingested within the period after the job was received');
      }
    } catch (err) {
      options.log.error({ err }, 'the tracking deadline sweep failed; it runs again at the next interval');
    }
  });
}
