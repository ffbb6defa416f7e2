/**
 * The states of an import job and of its disks, and the groups of states the rules, the service, its
 * clients and the portal decide on — each group defined here once (DESIGN.md, "Import jobs";
 * docs/service.md, "Import jobs"). The transitions themselves are the job machine's
 * (src/service/jobs/job-machine.ts), which reads these groups.
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

/** A disk's own state; diskprep registers it `Prepared`, the datacenter moves it on. */
export const DISK_STATES = ['Prepared', 'Received', 'NeverReceived', 'Transferring', 'Completed', 'CompletedWithErrors', 'Failed'] as const;
export type DiskState = (typeof DISK_STATES)[number];

/** The states of the copy of a job's imported objects into its vault (the adoption). */
export const ADOPTION_STATES = ['Running', 'Done', 'Failed'] as const;
export type AdoptionState = (typeof ADOPTION_STATES)[number];

/**
 * The states in which a job is under way: its disks are being prepared, are on their way or are being
 * ingested. In them a prepared disk whose ingest has not started may be replaced by a new one, and the
 * escrowed disk keys may still be released (to the datacenter, while it works on the disks) or replaced.
 * When a job leaves them (Completed, CompletedWithErrors, Failed, Adopted, Closed, Cancelled, Deleted) no
 * one can use its keys any more, and they are destroyed in the same transaction. The portal keeps the page
 * of a job in these states refreshing itself.
 */
export const ACTIVE_JOB_STATES: readonly JobState[] = ['Creating', 'Shipping', 'Received', 'Transferring'];

/** The states in which the escrowed disk keys may be released or replaced (see {@link ACTIVE_JOB_STATES}). */
export const DISK_KEY_JOB_STATES: readonly JobState[] = ACTIVE_JOB_STATES;

/** The states before the disks are received: a job may be cancelled, and its shipping details entered or changed, only in these. */
export const BEFORE_RECEIPT_JOB_STATES: readonly JobState[] = ['Creating', 'Shipping'];

/** The states in which the datacenter works on the disks (received, ingest started). */
export const INGESTING_JOB_STATES: readonly JobState[] = ['Received', 'Transferring'];

/** The states after the ingest: a request to ingest a disk has nothing left to do. */
export const INGESTED_JOB_STATES: readonly JobState[] = ['Completed', 'CompletedWithErrors', 'Failed', 'Adopted', 'Closed'];

/**
 * The states in which a job is the vault's pending offline seed: from creation until its data is adopted.
 * A vault has at most one job in these states.
 */
export const OPEN_JOB_STATES: readonly JobState[] = ['Creating', 'Shipping', 'Received', 'Transferring', 'Completed', 'CompletedWithErrors'];

/**
 * The states in which a job has ended for good (terminal): no action leads out of them, so its job token
 * has nothing left to do. Entering one revokes the job's tokens in the same transaction (job-store.ts), and
 * a job token of a job in one of them is refused at authentication (auth/token-store.ts). `Failed` counts:
 * a job whose ingest brought nothing cannot be retried, only replaced by a new job (with a new token).
 */
export const ENDED_JOB_STATES: readonly JobState[] = ['Closed', 'Cancelled', 'Deleted', 'Failed'];

/** Disk states after which a disk's ingest is over. */
export const FINAL_DISK_STATES: readonly DiskState[] = ['Completed', 'CompletedWithErrors', 'Failed', 'NeverReceived'];

/** Disk states that may be replaced: not arrived, never arrived, or arrived but never ingested (e.g. its manifest was refused). */
export const REPLACEABLE_DISK_STATES: readonly DiskState[] = ['Prepared', 'Received', 'NeverReceived'];

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
