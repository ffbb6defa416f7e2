import { AlreadyExistsError } from '../../core/errors.js';
import { isoTime } from '../ids.js';
import { IllegalTransitionError, JobExpiredError, JobLimitError } from './job-errors.js';
import type { ImportJobSettings } from './job-settings.js';
import type { DiskState, JobState } from './job-states.js';

/** One disk of a job as the rules see it (its escrowed key is kept by the store, never here). */
export interface JobDisk {
  /** The disk's id, a UUID diskprep made and wrote on the disk's label. */
  readonly id: string;
  /** 0 … maxDisksPerJob-1. */
  readonly index: number;
  readonly state: DiskState;
  readonly bytes: number;
  readonly files: number;
  /** SHA-256 (hex) of the disk's manifest. */
  readonly manifestSha256: string;
}

/** Where the disks travel: one carrier and one tracking number for all of a job's disks. */
export interface JobShipping {
  readonly carrier: string;
  readonly trackingNumber: string;
  readonly returnAddress: string;
}

/** What the rules decide on: a job's state and the facts that the rules read and change. */
export interface JobFacts {
  readonly state: JobState;
  /** When diskprep reported every disk prepared; the tracking deadline runs from here. */
  readonly preparedAt: string | null;
  readonly trackingDeadline: string | null;
  readonly shipping: JobShipping | null;
  /** Ordered by index. */
  readonly disks: readonly JobDisk[];
}

/** Everything that can happen to a job. The datacenter's actions (receive … close) arrive with ingest. */
export type JobAction =
  | { readonly kind: 'registerDisk'; readonly disk: Omit<JobDisk, 'state'> }
  | { readonly kind: 'markPrepared'; readonly disks: number }
  | { readonly kind: 'ship'; readonly shipping: JobShipping }
  | { readonly kind: 'cancel' }
  | { readonly kind: 'expire' }
  | { readonly kind: 'receive' }
  | { readonly kind: 'startTransfer' }
  | { readonly kind: 'complete' }
  | { readonly kind: 'completeWithErrors' }
  | { readonly kind: 'fail' }
  | { readonly kind: 'adopt' }
  | { readonly kind: 'close' };
export type JobActionKind = JobAction['kind'];

export const JOB_ACTION_KINDS: readonly JobActionKind[] = [
  'registerDisk',
  'markPrepared',
  'ship',
  'cancel',
  'expire',
  'receive',
  'startTransfer',
  'complete',
  'completeWithErrors',
  'fail',
  'adopt',
  'close',
];

/** The outcome of an allowed action: the job after it, and the timeline note (null: nothing changed, nothing to record). */
export interface JobTransition {
  readonly job: JobFacts;
  readonly note: string | null;
}

/** What the rules need besides the job: the time and the service's limits. */
export interface JobRulesContext {
  readonly now: number;
  readonly settings: Pick<ImportJobSettings, 'trackingDeadlineMs' | 'maxDisksPerJob' | 'maxDiskBytes'>;
}

/** Actions that only move the state along, with the states they start from. */
const MOVES: Readonly<Partial<Record<JobActionKind, { readonly from: readonly JobState[]; readonly to: JobState; readonly note: string }>>> = {
  cancel: { from: ['Creating', 'Shipping'], to: 'Cancelled', note: 'cancelled' },
  receive: { from: ['Shipping'], to: 'Received', note: 'the disks arrived at the datacenter' },
  startTransfer: { from: ['Received'], to: 'Transferring', note: 'ingest started' },
  complete: { from: ['Transferring'], to: 'Completed', note: 'ingest finished: every file arrived intact' },
  completeWithErrors: { from: ['Transferring'], to: 'CompletedWithErrors', note: 'ingest finished: some files were missing or damaged' },
  fail: { from: ['Transferring'], to: 'Failed', note: 'nothing could be ingested' },
  adopt: { from: ['Completed', 'CompletedWithErrors'], to: 'Adopted', note: 'the vault adopted the ingested data' },
  close: { from: ['Adopted'], to: 'Closed', note: 'cleaned up' },
};

/**
 * Applies `action` to `job` by the import job rules and returns the job after it, or throws and changes
 * nothing (`job` is never modified):
 * - `IllegalTransitionError` when the state does not allow the action or its preconditions fail,
 * - `JobExpiredError` when carrier and tracking number come after the tracking deadline,
 * - `JobLimitError` for a disk beyond the limits, `AlreadyExistsError` for a disk id the job already has.
 * Pure: no I/O; the time comes from `context.now`.
 */
export function applyJobAction(job: JobFacts, action: JobAction, context: JobRulesContext): JobTransition {
  switch (action.kind) {
    case 'registerDisk':
      return registerDisk(job, action.disk, context);
    case 'markPrepared':
      return markPrepared(job, action.disks, context);
    case 'ship':
      return ship(job, action.shipping, context);
    case 'expire':
      return expire(job, context);
    default: {
      const move = MOVES[action.kind]!;
      if (!move.from.includes(job.state)) throw new IllegalTransitionError(refusal(job, action.kind));
      return { job: { ...job, state: move.to }, note: move.note };
    }
  }
}

/** True when the job waits for carrier and tracking number and its tracking deadline has passed. */
export function isTrackingOverdue(job: JobFacts, now: number): boolean {
  return job.state === 'Creating' && job.trackingDeadline !== null && now >= Date.parse(job.trackingDeadline);
}

function registerDisk(job: JobFacts, disk: Omit<JobDisk, 'state'>, context: JobRulesContext): JobTransition {
  if (job.state !== 'Creating' || job.preparedAt !== null) {
    throw new IllegalTransitionError(
      job.state === 'Creating'
        ? `the disks of this job were reported complete at ${job.preparedAt}: no disk can be added or replaced now (cancel the job and start a new one to redo them)`
        : refusal(job, 'registerDisk'),
    );
  }
  const { maxDisksPerJob, maxDiskBytes } = context.settings;
  if (disk.index >= maxDisksPerJob) throw new JobLimitError(`a job has at most ${maxDisksPerJob} disks (indexes 0 to ${maxDisksPerJob - 1}); disk index ${disk.index} is beyond that`);
  if (disk.bytes > maxDiskBytes) throw new JobLimitError(`a disk may carry at most ${maxDiskBytes} bytes; disk ${disk.index} has ${disk.bytes}`);
  const twin = job.disks.find((d) => d.id === disk.id && d.index !== disk.index);
  if (twin !== undefined) throw new AlreadyExistsError(`disk id ${disk.id} is already disk ${twin.index} of this job`);
  const replaced = job.disks.some((d) => d.index === disk.index);
  const disks = [...job.disks.filter((d) => d.index !== disk.index), { ...disk, state: 'Prepared' as const }].sort((x, y) => x.index - y.index);
  const what = `disk ${disk.index} (id ${disk.id}, ${disk.files} files, ${disk.bytes} bytes)`;
  return { job: { ...job, disks }, note: replaced ? `${what} prepared again, replacing the earlier one` : `${what} prepared` };
}

function markPrepared(job: JobFacts, count: number, context: JobRulesContext): JobTransition {
  if (job.state === 'Creating' && job.preparedAt !== null) {
    // A diskprep that was stopped after reporting resumes and reports again: the same count changes nothing.
    if (count === job.disks.length) return { job, note: null };
    throw new IllegalTransitionError(`the disks of this job were already reported complete at ${job.preparedAt}, as ${job.disks.length} disks, not ${count}`);
  }
  if (job.state !== 'Creating') throw new IllegalTransitionError(refusal(job, 'markPrepared'));
  if (!(Number.isInteger(count) && count >= 1)) throw new IllegalTransitionError('a job needs at least one disk');
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !job.disks.some((d) => d.index === i));
  if (missing.length > 0) throw new IllegalTransitionError(`disk${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${count} ${missing.length > 1 ? 'are' : 'is'} not registered yet`);
  const extra = job.disks.filter((d) => d.index >= count).map((d) => d.index);
  if (extra.length > 0) throw new IllegalTransitionError(`the job has disk${extra.length > 1 ? 's' : ''} ${extra.join(', ')} registered beyond the ${count} reported`);
  const preparedAt = isoTime(context.now);
  const trackingDeadline = isoTime(context.now + context.settings.trackingDeadlineMs);
  return {
    job: { ...job, preparedAt, trackingDeadline },
    note: `${count} disk${count > 1 ? 's' : ''} prepared; carrier and tracking number are due by ${trackingDeadline}`,
  };
}

function ship(job: JobFacts, shipping: JobShipping, context: JobRulesContext): JobTransition {
  if (job.state === 'Deleted') {
    throw new JobExpiredError(`this job was deleted: it had no carrier and tracking number by its tracking deadline ${job.trackingDeadline ?? ''}; its disks will be refused`);
  }
  if (job.state === 'Creating') {
    if (job.preparedAt === null) throw new IllegalTransitionError('the disks of this job are not prepared yet: run ferry diskprep first');
    if (isTrackingOverdue(job, context.now)) {
      throw new JobExpiredError(`the tracking deadline of this job passed at ${job.trackingDeadline}: it is being deleted and its disks will be refused`);
    }
    return { job: { ...job, state: 'Shipping', shipping }, note: `shipped with ${describeShipping(shipping)}` };
  }
  if (job.state !== 'Shipping') throw new IllegalTransitionError(refusal(job, 'ship'));
  if (job.shipping !== null && sameShipping(job.shipping, shipping)) return { job, note: null };
  return { job: { ...job, shipping }, note: `shipping information changed to ${describeShipping(shipping)}` };
}

function expire(job: JobFacts, context: JobRulesContext): JobTransition {
  if (!isTrackingOverdue(job, context.now)) {
    throw new IllegalTransitionError(
      job.state === 'Creating'
        ? job.trackingDeadline === null
          ? 'the tracking deadline has not started: the disks are not prepared yet'
          : `the tracking deadline ${job.trackingDeadline} has not passed yet`
        : refusal(job, 'expire'),
    );
  }
  return {
    job: { ...job, state: 'Deleted' },
    note: `no carrier and tracking number by the tracking deadline ${job.trackingDeadline}: deleted; its disks will be refused`,
  };
}

function sameShipping(a: JobShipping, b: JobShipping): boolean {
  return a.carrier === b.carrier && a.returnAddress === b.returnAddress && a.trackingNumber === b.trackingNumber;
}

function describeShipping(shipping: JobShipping): string {
  return `${shipping.carrier}, tracking number ${shipping.trackingNumber}`;
}

const VERBS: Readonly<Record<JobActionKind, string>> = {
  registerDisk: 'add a disk to',
  markPrepared: 'report the disks of',
  ship: 'enter shipping information for',
  cancel: 'cancel',
  expire: 'delete (tracking deadline)',
  receive: 'receive',
  startTransfer: 'start ingest of',
  complete: 'complete',
  completeWithErrors: 'complete (with errors)',
  fail: 'fail',
  adopt: 'adopt',
  close: 'close',
};

/** Why `kind` is refused in the job's state, saying what the state allows. */
function refusal(job: JobFacts, kind: JobActionKind): string {
  const base = `cannot ${VERBS[kind]} a job that is ${job.state}`;
  if (kind === 'cancel' && !['Deleted', 'Cancelled'].includes(job.state)) return `${base}: a job can be cancelled only before it is received`;
  if (kind === 'ship' && ['Received', 'Transferring', 'Completed', 'CompletedWithErrors', 'Adopted', 'Closed', 'Failed'].includes(job.state)) {
    return `${base}: shipping information can be changed only until the job is received`;
  }
  if (['Closed', 'Deleted', 'Cancelled', 'Failed'].includes(job.state)) return `${base}: the job has ended`;
  return base;
}
