/**
 * The states of an import job and of its disks (DESIGN.md, "Import jobs"; docs/service.md, "Import jobs").
 *
 * Job: `Creating` → `Shipping` → `Received` → `Transferring` → `Completed` | `CompletedWithErrors` →
 * `Adopted` → `Closed`, with the side exits `Deleted` (no carrier and tracking number by the tracking
 * deadline), `Cancelled` (only before `Received`) and `Failed` (nothing could be ingested).
 */
export const JOB_STATES = [
  'Creating',
  'Shipping',
  'Received',
  'Transferring',
  'Completed',
  'CompletedWithErrors',
  'Adopted',
  'Closed',
  'Deleted',
  'Cancelled',
  'Failed',
] as const;
export type JobState = (typeof JOB_STATES)[number];

/** A disk's own state; diskprep registers it `Prepared`, the datacenter moves it on (a later issue). */
export const DISK_STATES = ['Prepared', 'Received', 'NeverReceived', 'Transferring', 'Completed', 'CompletedWithErrors', 'Failed'] as const;
export type DiskState = (typeof DISK_STATES)[number];

/**
 * The states in which a job is the vault's pending offline seed: from creation until its data is adopted.
 * A vault has at most one job in these states.
 */
export const OPEN_JOB_STATES: readonly JobState[] = ['Creating', 'Shipping', 'Received', 'Transferring', 'Completed', 'CompletedWithErrors'];

/**
 * The states in which a job's escrowed disk keys may still be released (to the datacenter, while it works
 * on the disks) or replaced: before and during the ingest. When a job leaves them (Completed,
 * CompletedWithErrors, Failed, Adopted, Closed, Cancelled, Deleted) no one can use its keys any more, and
 * they are destroyed in the same transaction.
 */
export const DISK_KEY_JOB_STATES: readonly JobState[] = ['Creating', 'Shipping', 'Received', 'Transferring'];

/**
 * The states in which a job has ended for good: no action leads out of them, so its job token has nothing
 * left to do. Entering one revokes the job's tokens in the same transaction (job-store.ts), and a job token
 * of a job in one of them is refused at authentication (auth/token-store.ts). `Failed` counts: a job whose
 * ingest brought nothing cannot be retried, only replaced by a new job (with a new token).
 */
export const ENDED_JOB_STATES: readonly JobState[] = ['Closed', 'Cancelled', 'Deleted', 'Failed'];

export function isEndedJobState(state: string): boolean {
  return (ENDED_JOB_STATES as readonly string[]).includes(state);
}

export function isJobState(value: string): value is JobState {
  return (JOB_STATES as readonly string[]).includes(value);
}

export function isDiskState(value: string): value is DiskState {
  return (DISK_STATES as readonly string[]).includes(value);
}

export function isOpenJobState(state: JobState): boolean {
  return OPEN_JOB_STATES.includes(state);
}
