import { ConflictError } from '../../core/errors.js';
import { INGESTING_JOB_STATES } from '../../contract/job-states.js';
import { isoTime } from '../ids.js';
import type { JobRecord } from './job-records.js';
import { ingestTally } from './ingest-records.js';
import { changeImportJob, type JobStoreDeps } from './job-store.js';

/** The actor the timeline names for the sweep's deletions. */
export const DEADLINE_SWEEP_ACTOR = 'service:deadline-sweep';

/**
 * Called by a sweep after each job it changed, before it looks at the next; false ends the sweep there
 * (its worker lost its lease: worker/deadline-sweeper.ts).
 */
export type SweepStep = () => Promise<boolean>;

/**
 * Deletes every job whose disks were prepared but that has no carrier and tracking number by its
 * tracking deadline (`Creating` → `Deleted`, with a timeline event), and returns the jobs it deleted.
 *
 * Coordinated through the database only: each job is changed by a conditional update on the version
 * it was read with, so when several service instances sweep at once every job is deleted exactly once,
 * and a job shipped a moment before is left alone (the rules refuse to expire it). Idempotent. `afterChange`
 * runs after each job changed (not after one left alone) and may end the sweep.
 */
export async function expireOverdueJobs(deps: JobStoreDeps, afterChange?: SweepStep): Promise<JobRecord[]> {
  const now = deps.clock.now();
  const due = await deps.db
    .selectFrom('import_jobs')
    .select('id')
    .where('state', '=', 'Creating')
    .where('tracking_deadline', 'is not', null)
    .where('tracking_deadline', '<=', isoTime(now))
    .orderBy('tracking_deadline')
    .execute();
  const deleted: JobRecord[] = [];
  for (const { id } of due) {
    try {
      const { job, changed } = await changeImportJob(deps, id, { kind: 'expire' }, DEADLINE_SWEEP_ACTOR);
      if (changed) deleted.push(job);
    } catch (err) {
      // Shipped, cancelled or deleted by someone else since the query: not this sweep's to delete.
      if (!(err instanceof ConflictError)) throw err;
      continue;
    }
    if (afterChange !== undefined && !(await afterChange())) break;
  }
  return deleted;
}

/**
 * Marks `NeverReceived` the disks of received jobs that are still waiting for their ingest (`Prepared`,
 * or `Received`: their key was fetched but no ingest started) once the never-received period has passed
 * since the job was received, and finishes the job when every disk is then final (see the job machine's
 * finish rules). Returns the jobs it changed. Coordinated through the database like {@link expireOverdueJobs};
 * `afterChange` as there.
 */
export async function markNeverReceivedDisks(deps: JobStoreDeps, afterChange?: SweepStep): Promise<JobRecord[]> {
  const now = deps.clock.now();
  const due = await deps.db
    .selectFrom('import_jobs')
    .select('id')
    .where('state', 'in', INGESTING_JOB_STATES)
    .where('received_at', '<=', isoTime(now - deps.settings.neverReceivedMs))
    .orderBy('received_at')
    .execute();
  const changed: JobRecord[] = [];
  for (const { id } of due) {
    try {
      const decide = async (db: JobStoreDeps['db']) => {
        const { jobOkFiles, errorCount } = await ingestTally(db, id);
        return { kind: 'markNeverReceived', tally: { jobOkFiles, errorCount } } as const;
      };
      const { job, changed: did } = await changeImportJob(deps, id, decide, DEADLINE_SWEEP_ACTOR);
      if (did) changed.push(job);
    } catch (err) {
      // No disk waiting (all ingested or being ingested), or changed by someone else: nothing to do here.
      if (!(err instanceof ConflictError)) throw err;
      continue;
    }
    if (afterChange !== undefined && !(await afterChange())) break;
  }
  return changed;
}
