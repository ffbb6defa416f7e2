import type { ServiceContext } from '../context.js';
import { claimAdoption, releaseAdoption } from '../jobs/adoption-lease.js';
import { newRecordId } from '../ids.js';
import type { Pauser } from '../pause-points.js';
import { runAdoption } from './adoption-run.js';
import { runPeriodically, type RunningWorker, type WorkerLogger } from './periodic-worker.js';

/** How long a claimed adoption is a worker's without a progress report: then another may take it over. */
export const DEFAULT_ADOPTION_LEASE_MS = 60_000;
/** How often the worker looks for adoptions to run. */
export const DEFAULT_ADOPTION_POLL_MS = 1000;

export interface AdoptionWorkerOptions {
  readonly log: WorkerLogger;
  readonly intervalMs?: number;
  readonly leaseMs?: number;
  /** The name the worker's leases carry; a fresh random one by default (one per process). */
  readonly owner?: string;
  /** Test-only fault injection (pause-points.ts). */
  readonly pause?: Pauser;
}

/**
 * Starts the adoption worker (worker/adoption-run.ts): a pass at once, then one every `intervalMs`
 * after the previous ended; a pass runs every adoption it can claim, one after the other. Each outcome is
 * logged; an error leaves the adoption Running and gives its lease back, so the next pass retries it.
 * `stop()` ends the run in progress after its current object and gives its lease back.
 */
export function startAdoptionWorker(ctx: ServiceContext, options: AdoptionWorkerOptions): RunningWorker {
  const owner = options.owner ?? `adoption-worker:${newRecordId(ctx.random)}`;
  const leaseMs = options.leaseMs ?? DEFAULT_ADOPTION_LEASE_MS;
  return runPeriodically(options.intervalMs ?? DEFAULT_ADOPTION_POLL_MS, async (stopped) => {
    while (!stopped()) {
      let jobId: string | undefined;
      try {
        jobId = await claimAdoption(ctx.db, owner, ctx.clock.now(), leaseMs);
        if (jobId === undefined) return;
        const { pause } = options;
        const afterObject = pause === undefined ? undefined : async (_key: string, copied: boolean) => void (copied ? await pause('adoption-object-copied') : undefined);
        const outcome = await runAdoption(ctx, jobId, { owner, leaseMs, shouldStop: stopped, ...(afterObject ? { afterObject } : {}) });
        if (outcome === 'stopped') await releaseAdoption(ctx.db, jobId, owner);
        options.log.info({ jobId, outcome }, `adoption of import job ${jobId}: ${outcome}`);
      } catch (err) {
        options.log.error({ err, jobId }, 'an adoption failed for a reason that may pass; it is retried at the next pass');
        if (jobId !== undefined) await releaseAdoption(ctx.db, jobId, owner).catch(() => undefined);
        return;
      }
    }
  });
}
