import { AlreadyExistsError } from '../../core/errors.js';
import { isoTime } from '../ids.js';
import { AdoptionRunningError, DiskIdMismatchError, IllegalTransitionError, JobExpiredError, JobLimitError, ManifestMismatchError } from './job-errors.js';
import type { ImportJobSettings } from './job-settings.js';
import type { ImportJobDisk, JobShipping } from '../../contract/import-job.js';
import {
  ACTIVE_JOB_STATES,
  BEFORE_RECEIPT_JOB_STATES,
  ENDED_JOB_STATES,
  FINAL_DISK_STATES,
  INGESTED_JOB_STATES,
  INGESTING_JOB_STATES,
  REPLACEABLE_DISK_STATES,
  type AdoptionState,
  type DiskState,
  type JobState,
} from '../../contract/job-states.js';

/** One disk of a job as the rules see it: the contract's disk without the ingest's progress (its escrowed key is kept by the store, never here). */
export type JobDisk = Omit<ImportJobDisk, 'progress'>;

/** Where the disks travel: one carrier and one tracking number for all of a job's disks (the contract's shipping details). */
export type { JobShipping };

/** The copy of the job's objects into its vault, as the rules see it (progress is the worker's, not here). */
export interface JobAdoptionFacts {
  readonly state: AdoptionState;
  /** Import keys left out (index files the agent replaced), sorted. */
  readonly excluded: readonly string[];
}

/** What the rules decide on: a job's state and the facts that the rules read and change. */
export interface JobFacts {
  readonly state: JobState;
  /** When diskprep reported every disk prepared; the tracking deadline runs from here. */
  readonly preparedAt: string | null;
  readonly trackingDeadline: string | null;
  readonly shipping: JobShipping | null;
  /** When the job first went to `Shipping`. */
  readonly shippedAt: string | null;
  /** When the datacenter received the disks (`Received`); the never-received period runs from here. */
  readonly receivedAt: string | null;
  /** Ordered by index. */
  readonly disks: readonly JobDisk[];
  /** Null until the vault's agent asks for the adoption. */
  readonly adoption: JobAdoptionFacts | null;
}

/**
 * What the recorded ingest results say, counted by the store for the rules that finish disks and jobs
 * (the rules never read the results themselves).
 */
export interface IngestTally {
  /** Files of the disk being finished whose last recorded result is `Ok` (finishDisk only). */
  readonly diskOkFiles: number;
  /** Files of the whole job whose last recorded result is `Ok`. */
  readonly jobOkFiles: number;
  /** Entries in the job's error log: non-Ok file results and disk-level problems. */
  readonly errorCount: number;
}

/** Everything that can happen to a job. */
export type JobAction =
  | { readonly kind: 'registerDisk'; readonly disk: Omit<JobDisk, 'state'> }
  | { readonly kind: 'markPrepared'; readonly disks: number }
  | { readonly kind: 'ship'; readonly shipping: JobShipping }
  | { readonly kind: 'cancel' }
  | { readonly kind: 'expire' }
  | { readonly kind: 'receive' }
  | { readonly kind: 'releaseDiskKey'; readonly index: number; readonly diskId: string; readonly operator: string }
  | { readonly kind: 'startDiskIngest'; readonly index: number; readonly diskId: string; readonly manifestSha256: string }
  | { readonly kind: 'finishDisk'; readonly index: number; readonly tally: IngestTally }
  | { readonly kind: 'markNeverReceived'; readonly tally: Omit<IngestTally, 'diskOkFiles'> }
  | { readonly kind: 'requestAdoption'; readonly exclude: readonly string[] }
  | { readonly kind: 'failAdoption'; readonly reason: string }
  | { readonly kind: 'adopt'; readonly objects: number; readonly bytes: number; readonly serverSideCopy: boolean }
  | { readonly kind: 'close' }
  | { readonly kind: 'replaceDisk'; readonly disk: Omit<JobDisk, 'state'>; readonly replaces: string };
export type JobActionKind = JobAction['kind'];

export const JOB_ACTION_KINDS: readonly JobActionKind[] = [
  'registerDisk',
  'markPrepared',
  'ship',
  'cancel',
  'expire',
  'receive',
  'releaseDiskKey',
  'startDiskIngest',
  'finishDisk',
  'markNeverReceived',
  'requestAdoption',
  'failAdoption',
  'adopt',
  'close',
  'replaceDisk',
];

/** The outcome of an allowed action: the job after it, and the timeline note (null: nothing changed, nothing to record). */
export interface JobTransition {
  readonly job: JobFacts;
  readonly note: string | null;
}

/** What the rules need besides the job: the time and the service's limits. */
export interface JobRulesContext {
  readonly now: number;
  readonly settings: Pick<ImportJobSettings, 'trackingDeadlineMs' | 'maxDisksPerJob' | 'maxDiskBytes' | 'neverReceivedMs'>;
}


/**
 * Applies `action` to `job` by the import job rules and returns the job after it, or throws and changes
 * nothing (`job` is never modified):
 * - `IllegalTransitionError` when the state does not allow the action or its preconditions fail,
 * - `JobExpiredError` when carrier and tracking number come after the tracking deadline, and for the
 *   datacenter's actions on a job deleted at its deadline,
 * - `JobLimitError` for a disk beyond the limits, `AlreadyExistsError` for a disk id the job already has,
 * - `DiskIdMismatchError` / `ManifestMismatchError` when the disk presented is not the one registered,
 * - `AdoptionRunningError` when an adoption runs with another set of excluded keys.
 * Pure: no I/O; the time comes from `context.now`, the ingest results from the action's tally.
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
    case 'cancel':
      if (!BEFORE_RECEIPT_JOB_STATES.includes(job.state)) throw new IllegalTransitionError(refusal(job, 'cancel'));
      return { job: { ...job, state: 'Cancelled' }, note: 'cancelled' };
    case 'receive':
      return receive(job, context);
    case 'releaseDiskKey':
      return releaseDiskKey(job, action);
    case 'startDiskIngest':
      return startDiskIngest(job, action);
    case 'finishDisk':
      return finishDisk(job, action.index, action.tally);
    case 'markNeverReceived':
      return markNeverReceived(job, action.tally, context);
    case 'requestAdoption':
      return requestAdoption(job, action.exclude);
    case 'failAdoption':
      if (job.adoption?.state !== 'Running' || !isIngested(job)) throw new IllegalTransitionError(refusal(job, 'failAdoption'));
      return { job: { ...job, adoption: { ...job.adoption, state: 'Failed' } }, note: `adoption failed: ${action.reason}` };
    case 'adopt':
      if (job.adoption?.state !== 'Running' || !isIngested(job)) throw new IllegalTransitionError(refusal(job, 'adopt'));
      return {
        job: { ...job, state: 'Adopted', adoption: { ...job.adoption, state: 'Done' } },
        note: `${action.objects} objects, ${action.bytes} bytes adopted, server-side copy: ${action.serverSideCopy ? 'yes' : 'no'}`,
      };
    case 'replaceDisk':
      return replaceDisk(job, action.disk, action.replaces, context);
    case 'close':
      // A close repeated after a crash between the cleanup and its answer finds the job closed: nothing to do.
      if (job.state === 'Closed') return { job, note: null };
      if (job.state !== 'Adopted') throw new IllegalTransitionError(refusal(job, 'close'));
      return { job: { ...job, state: 'Closed' }, note: 'the imported objects were removed: closed' };
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

/** A new disk in place of one lost, or damaged before its ingest could start (`ferry diskprep --replace-disk`). */
function replaceDisk(job: JobFacts, disk: Omit<JobDisk, 'state'>, replaces: string, context: JobRulesContext): JobTransition {
  if (!ACTIVE_JOB_STATES.includes(job.state) || job.preparedAt === null) {
    throw new IllegalTransitionError(
      job.state === 'Creating' ? 'the disks of this job are not all prepared yet: a disk can be replaced once diskprep has reported them' : refusal(job, 'replaceDisk'),
    );
  }
  const old = job.disks.find((d) => d.index === disk.index);
  if (old === undefined || old.id !== replaces) {
    throw new DiskIdMismatchError(`disk ${disk.index} of this job is ${old === undefined ? 'not registered' : `disk id ${old.id}`}, not ${replaces}: nothing to replace`);
  }
  if (!REPLACEABLE_DISK_STATES.includes(old.state)) {
    throw new IllegalTransitionError(`disk ${disk.index} is ${old.state}: its ingest has started, so it cannot be replaced (what it lost is re-sent over the network after adoption)`);
  }
  if (disk.bytes > context.settings.maxDiskBytes) throw new JobLimitError(`a disk may carry at most ${context.settings.maxDiskBytes} bytes; the new disk ${disk.index} has ${disk.bytes}`);
  if (job.disks.some((d) => d.id === disk.id)) throw new AlreadyExistsError(`disk id ${disk.id} is already a disk of this job`);
  return {
    job: { ...job, disks: withDisk(job.disks, { ...disk, state: 'Prepared' }) },
    note: `disk ${disk.index} (id ${old.id}) replaced by a new disk (id ${disk.id}, ${disk.files} files, ${disk.bytes} bytes): the old disk is refused from now on`,
  };
}

function withDisk(disks: readonly JobDisk[], disk: JobDisk): JobDisk[] {
  return disks.map((d) => (d.index === disk.index ? disk : d));
}

function markPrepared(job: JobFacts, count: number, context: JobRulesContext): JobTransition {
  if (job.state === 'Creating' && job.preparedAt !== null) {
    // A diskprep that was stopped after reporting resumes and reports again: the same count changes nothing.
    if (count === job.disks.length) return { job, note: null };
    throw new IllegalTransitionError(`the disks of this job were already reported complete at ${job.preparedAt}, as ${job.disks.length} disks, not ${count}`);
  }
  if (job.state !== 'Creating') throw new IllegalTransitionError(refusal(job, 'markPrepared'));
  if (!(Number.isInteger(count) && count >= 1)) throw new IllegalTransitionError('a job needs at least one disk');
  // The count is the client's word: checked against the limit before anything is sized by it.
  const { maxDisksPerJob } = context.settings;
  if (count > maxDisksPerJob) throw new JobLimitError(`a job has at most ${maxDisksPerJob} disks; ${count} were reported`);
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
    return { job: { ...job, state: 'Shipping', shipping, shippedAt: job.shippedAt ?? isoTime(context.now) }, note: `shipped with ${describeShipping(shipping)}` };
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

function receive(job: JobFacts, context: JobRulesContext): JobTransition {
  refuseDeleted(job);
  if (job.state !== 'Shipping') {
    throw new IllegalTransitionError(job.state === 'Creating' ? `${refusal(job, 'receive')}: it was never shipped (no carrier and tracking number)` : refusal(job, 'receive'));
  }
  return { job: { ...job, state: 'Received', receivedAt: isoTime(context.now) }, note: 'the disks arrived at the datacenter' };
}

function releaseDiskKey(job: JobFacts, action: { readonly index: number; readonly diskId: string; readonly operator: string }): JobTransition {
  requireIngesting(job, 'releaseDiskKey');
  const disk = registeredDisk(job, action.index, action.diskId);
  const disks = disk.state === 'Prepared' ? withDiskState(job.disks, disk.index, 'Received') : job.disks;
  return { job: { ...job, disks }, note: `disk key of disk ${disk.index} released to operator ${action.operator}` };
}

function startDiskIngest(job: JobFacts, action: { readonly index: number; readonly diskId: string; readonly manifestSha256: string }): JobTransition {
  refuseDeleted(job);
  if (!INGESTING_JOB_STATES.includes(job.state) && !INGESTED_JOB_STATES.includes(job.state)) {
    throw new IllegalTransitionError(`${refusal(job, 'startDiskIngest')}: the datacenter works on a job's disks only once it is Received`);
  }
  const disk = registeredDisk(job, action.index, action.diskId);
  if (disk.manifestSha256 !== action.manifestSha256) {
    throw new ManifestMismatchError(
      `the manifest of disk ${disk.index} has SHA-256 ${action.manifestSha256}, but diskprep registered ${disk.manifestSha256}: the manifest was changed or damaged; the disk is refused`,
    );
  }
  // Over already, or running: a repeated or resumed ingest has nothing to change.
  if (INGESTED_JOB_STATES.includes(job.state) || FINAL_DISK_STATES.includes(disk.state) || disk.state === 'Transferring') return { job, note: null };
  return {
    job: { ...job, state: 'Transferring', disks: withDiskState(job.disks, disk.index, 'Transferring') },
    note: `ingest of disk ${disk.index} started`,
  };
}

function finishDisk(job: JobFacts, index: number, tally: IngestTally): JobTransition {
  requireIngesting(job, 'finishDisk');
  const disk = job.disks.find((d) => d.index === index);
  if (disk === undefined) throw new IllegalTransitionError(`the job has no disk ${index}`);
  if (disk.state !== 'Transferring') {
    const over = FINAL_DISK_STATES.includes(disk.state) ? ' (it is finished already)' : ': start its ingest first';
    throw new IllegalTransitionError(`disk ${index} is ${disk.state}: only a disk whose ingest runs (Transferring) can be finished${over}`);
  }
  const ok = Math.min(tally.diskOkFiles, disk.files);
  const outcome: DiskState = ok === disk.files ? 'Completed' : ok > 0 ? 'CompletedWithErrors' : 'Failed';
  const disks = withDiskState(job.disks, index, outcome);
  return finishJobIfDone({ ...job, disks }, tally, `disk ${index} ${outcome}: ${ok} of ${disk.files} files arrived intact`);
}

function markNeverReceived(job: JobFacts, tally: Omit<IngestTally, 'diskOkFiles'>, context: JobRulesContext): JobTransition {
  requireIngesting(job, 'markNeverReceived');
  const due = job.receivedAt !== null && context.now >= Date.parse(job.receivedAt) + context.settings.neverReceivedMs;
  const waiting = job.disks.filter((d) => d.state === 'Prepared' || d.state === 'Received');
  if (waiting.length === 0) throw new IllegalTransitionError('no disk of this job is waiting for its ingest');
  if (!due) throw new IllegalTransitionError(`the disks of this job may still arrive: it was received at ${job.receivedAt ?? 'an unknown time'}`);
  let disks: readonly JobDisk[] = job.disks;
  for (const disk of waiting) disks = withDiskState(disks, disk.index, 'NeverReceived');
  const which = `disk${waiting.length > 1 ? 's' : ''} ${waiting.map((d) => d.index).join(', ')}`;
  return finishJobIfDone({ ...job, disks }, tally, `${which} not ingested within the period after the job was received (${job.receivedAt}): NeverReceived`);
}

/** When every disk is final, the job's outcome from its disks and the tally (docs/service.md, "Ingest"); else the job as it is. */
function finishJobIfDone(job: JobFacts, tally: Omit<IngestTally, 'diskOkFiles'>, note: string): JobTransition {
  if (!job.disks.every((d) => FINAL_DISK_STATES.includes(d.state))) return { job, note };
  const state: JobState =
    tally.jobOkFiles === 0 ? 'Failed' : job.disks.every((d) => d.state === 'Completed') && tally.errorCount === 0 ? 'Completed' : 'CompletedWithErrors';
  const why =
    state === 'Completed'
      ? 'every file arrived intact'
      : state === 'Failed'
        ? 'not one file arrived intact'
        : `not every file arrived intact, ${tally.errorCount} entr${tally.errorCount === 1 ? 'y' : 'ies'} in the error log (ferry job errors)`;
  return { job: { ...job, state }, note: `${note}; ingest finished: ${state}, ${why}` };
}

function requestAdoption(job: JobFacts, exclude: readonly string[]): JobTransition {
  const excluded = [...new Set(exclude)].sort();
  if (job.state === 'Adopted') return { job, note: null };
  if (!isIngested(job)) throw new IllegalTransitionError(`${refusal(job, 'requestAdoption')}: a job can be adopted once its ingest is Completed or CompletedWithErrors`);
  if (job.adoption?.state === 'Running') {
    if (sameKeys(job.adoption.excluded, excluded)) return { job, note: null };
    throw new AdoptionRunningError(
      `an adoption of this job is running with ${job.adoption.excluded.length} excluded keys, not these ${excluded.length}: wait until it is Done or Failed, then ask again`,
    );
  }
  const again = job.adoption?.state === 'Failed' ? ' again' : '';
  const left = excluded.length > 0 ? `, ${excluded.length} index file${excluded.length > 1 ? 's' : ''} excluded` : '';
  return { job: { ...job, adoption: { state: 'Running', excluded } }, note: `adoption into the vault requested${again}${left}` };
}

function isIngested(job: JobFacts): boolean {
  return job.state === 'Completed' || job.state === 'CompletedWithErrors';
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((key, i) => key === b[i]);
}

function refuseDeleted(job: JobFacts): void {
  if (job.state === 'Deleted') throw new JobExpiredError(`this job was deleted at its tracking deadline ${job.trackingDeadline ?? ''}: its disks are refused`);
}

function requireIngesting(job: JobFacts, kind: JobActionKind): void {
  refuseDeleted(job);
  if (!INGESTING_JOB_STATES.includes(job.state)) {
    throw new IllegalTransitionError(`${refusal(job, kind)}: the datacenter works on a job's disks only while it is Received or Transferring`);
  }
}

/** The job's disk `index`, which must have id `diskId`. */
function registeredDisk(job: JobFacts, index: number, diskId: string): JobDisk {
  const disk = job.disks.find((d) => d.index === index);
  if (disk === undefined) {
    throw new DiskIdMismatchError(`the job has no disk ${index} (it has disks 0 to ${job.disks.length - 1}): the disk presented is not one of this job's`);
  }
  if (disk.id !== diskId) {
    throw new DiskIdMismatchError(`disk ${index} of this job has id ${disk.id}, not ${diskId}: the disk presented is not the one diskprep registered at that index`);
  }
  return disk;
}

function withDiskState(disks: readonly JobDisk[], index: number, state: DiskState): JobDisk[] {
  return disks.map((d) => (d.index === index ? { ...d, state } : d));
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
  releaseDiskKey: 'release a disk key of',
  startDiskIngest: 'start the ingest of a disk of',
  finishDisk: 'finish a disk of',
  markNeverReceived: 'mark disks never received of',
  requestAdoption: 'adopt',
  failAdoption: 'fail the adoption of',
  adopt: 'complete the adoption of',
  close: 'close',
  replaceDisk: 'replace a disk of',
};

/** Why `kind` is refused in the job's state, saying what the state allows. */
function refusal(job: JobFacts, kind: JobActionKind): string {
  const base = `cannot ${VERBS[kind]} a job that is ${job.state}`;
  if (kind === 'cancel' && !['Deleted', 'Cancelled'].includes(job.state)) return `${base}: a job can be cancelled only before it is received`;
  if (kind === 'ship' && !BEFORE_RECEIPT_JOB_STATES.includes(job.state) && job.state !== 'Deleted' && job.state !== 'Cancelled') {
    return `${base}: shipping information can be changed only until the job is received`;
  }
  if (kind === 'close') return `${base}: a job can be closed only once its data is Adopted into the vault`;
  if (ENDED_JOB_STATES.includes(job.state)) return `${base}: the job has ended`;
  return base;
}
