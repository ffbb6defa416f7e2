import { expireOverdueJobs, markNeverReceivedDisks } from '../jobs/deadline-sweep.js';
import type { JobStoreDeps } from '../jobs/job-store.js';
import { claimWorkerLease, releaseWorkerLease, renewWorkerLease } from '../jobs/worker-lease.js';
import { newRecordId } from '../ids.js';
import type { Pauser } from '../pause-points.js';
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

/** The worker lease (jobs/worker-lease.ts) of the sweep: one instance sweeps at a time. */
export const SWEEP_LEASE = 'deadline-sweep';
/** How long a sweep is an instance's without renewal (renewed after each job it changes). */
export const DEFAULT_SWEEP_LEASE_MS = 60_000;

export interface DeadlineSweeperOptions {
  readonly intervalMs: number;
  readonly log: WorkerLogger;
  /** The sweep's lease length; {@link DEFAULT_SWEEP_LEASE_MS} by default. */
  readonly leaseMs?: number;
  /** The name the lease carries; a fresh random one by default (one per process). */
  readonly owner?: string;
  /** Test-only fault injection (pause-points.ts). */
  readonly pause?: Pauser;
}

/**
 * Starts the tracking deadline sweep (jobs/deadline-sweep.ts), which also marks disks never received: a pass at once, then one every
 * `intervalMs` after the previous pass ended. Each deleted job is logged; a failed pass is logged and
 * the next one runs as usual. Several service instances may run it on one database: a pass runs only
 * while its instance holds the sweep's lease ({@link SWEEP_LEASE}, renewed after each job changed, given
 * back at the end of the pass), and each job changes by a conditional update, so each is changed once.
 * An instance killed mid-pass leaves the rest to whichever instance claims the lease once it expired.
 */
export function startDeadlineSweeper(deps: JobStoreDeps, options: DeadlineSweeperOptions): RunningWorker {
  const owner = options.owner ?? `deadline-sweep:${newRecordId(deps.random)}`;
  const leaseMs = options.leaseMs ?? DEFAULT_SWEEP_LEASE_MS;
  return runPeriodically(options.intervalMs, async (stopped) => {
    let claimed = false;
    try {
      claimed = await claimWorkerLease(deps.db, SWEEP_LEASE, owner, deps.clock.now(), leaseMs);
      if (!claimed) return;
      let held = true;
      const afterChange = async (): Promise<boolean> => {
        await options.pause?.('sweep-job-changed');
        held = !stopped() && (await renewWorkerLease(deps.db, SWEEP_LEASE, owner, deps.clock.now(), leaseMs));
        return held;
      };
      for (const job of await expireOverdueJobs(deps, afterChange)) {
        options.log.info({ jobId: job.id, tenantId: job.tenantId, trackingDeadline: job.trackingDeadline }, 'import job deleted: no carrier and tracking number by its tracking deadline');
      }
      if (!held) return;
      for (const job of await markNeverReceivedDisks(deps, afterChange)) {
        options.log.info({ jobId: job.id, tenantId: job.tenantId, state: job.state }, 'disks of an import job marked NeverReceived: not ingested within the period after the job was received');
      }
    } catch (err) {
      options.log.error({ err }, 'the tracking deadline sweep failed; it runs again at the next interval');
    } finally {
      if (claimed) await releaseWorkerLease(deps.db, SWEEP_LEASE, owner).catch(() => undefined);
    }
  });
}
