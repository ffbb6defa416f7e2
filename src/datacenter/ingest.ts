/**
 * `ferry datacenter ingest`: every disk given is identified by its label and manifest (never by order or
 * mount point), then the disks are ingested side by side, sharing one pool of reading workers and one
 * memory budget (docs/datacenter.md). Safe to run again at any time, and with several commands at once:
 * the service records each file's result, a rerun skips what is done, the import skips what it has.
 */
import type { Clock } from '../core/clock.js';
import { InterruptedError, UserError } from '../core/errors.js';
import { noFailpoints, type Failpoints } from '../core/failpoints.js';
import type { ImportJob } from '../contract/import-job.js';
import { INGESTED_JOB_STATES, INGESTING_JOB_STATES } from '../contract/job-states.js';
import { ByteBudget } from '../core/byte-budget.js';
import { identifyDisk, type IdentifiedDisk, type RefusedDisk } from './disk-identity.js';
import { ingestDisk, refuse } from './disk-ingest.js';
import type { IngestService } from './ingest-service.js';
import type { DiskOutcome, DiskProgress, IngestContext, IngestStorage } from './ingest-types.js';
import { OpenPool } from './open-pool.js';

/** How ingest talks to its operator; the CLI draws progress from the counters it is given. */
export interface IngestIO {
  /** One line for the operator (a refusal, a warning). */
  note(message: string): void;
  /** The disks' live counters, once they are identified; sampled until the run ends. */
  started(disks: readonly DiskProgress[]): void;
}

/** What {@link runIngest} needs: the service, the job's import, the job and the disks, and how to report. */
export interface IngestOptions {
  readonly service: IngestService;
  /**
   * The job's import, where files are stored: `HttpStorage` at `…/v1/import-jobs/<jobId>`, or on the
   * service's host the import itself (src/service/ingest/).
   */
  readonly storage: IngestStorage;
  readonly jobId: string;
  /** The disks' paths (mount points or folders), in any order. */
  readonly disks: readonly string[];
  readonly io: IngestIO;
  readonly clock: Clock;
  readonly signal?: AbortSignal;
  readonly failpoints?: Failpoints;
  /**
   * Reading workers; default 0: files are read and authenticated on the calling thread. Since the command
   * no longer hashes them (disk-file-opener.ts), a file costs the main thread little more than its GMAC
   * (several GB/s), and each worker cost its start-up and ~25 MiB (scale-1 bench, 3 alternating pairs:
   * 1.41 against 1.52 CPU-s, 173 against 219 MiB peak RSS, wall time the same).
   */
  readonly workers?: number;
  /**
   * Plaintext bytes read and not yet uploaded, all disks together (default 128 MiB). The process holds
   * up to about twice as much: the plaintext memory kept free for the next files (plaintext-buffers.ts).
   */
  readonly maxBytesInFlight?: number;
  /**
   * Files of one disk in flight at once, read or uploaded (default twice the workers plus two, so that the
   * workers read the next files while the earlier ones upload; the byte budget bounds the memory).
   */
  readonly window?: number;
  /** Progress goes to the service at least this often (default 2 s). */
  readonly progressIntervalMs?: number;
  readonly readBytes?: number;
}

/** The outcome of a run: each disk's, the job as the service last answered it, and the exit code. */
export interface IngestResult {
  readonly job: ImportJob;
  readonly disks: readonly DiskOutcome[];
  /** 0 every disk Completed; 3 some CompletedWithErrors (none worse); 1 a disk refused, Failed or stopped. */
  readonly exitCode: 0 | 1 | 3;
}


/**
 * Ingests the given disks into the job's import. Throws a `UserError` when the job is in no state to
 * ingest (not received yet, deleted, cancelled), `InterruptedError` when `signal` aborts (what finished
 * is recorded; run again to resume). Per-disk problems are outcomes, not errors.
 */
export async function runIngest(options: IngestOptions): Promise<IngestResult> {
  const { service, jobId } = options;
  if (options.disks.length === 0) throw new UserError('give at least one disk: --disk PATH');
  let job = await service.getJob(jobId);
  checkIngestable(job);
  const final = INGESTED_JOB_STATES.includes(job.state);

  const found = await Promise.all(options.disks.map((path) => identifyDisk(path, job)));
  const seen = new Set<string>();
  const plan = found.map((disk): IdentifiedDisk | RefusedDisk => {
    if (disk.kind !== 'disk') return disk;
    if (seen.has(disk.label.diskId)) return { kind: 'refused', given: disk.given, index: disk.label.index, message: `${disk.given} is disk ${disk.label.index + 1} again (given twice): ingested once` };
    seen.add(disk.label.diskId);
    return disk;
  });
  const progress = plan.map((disk): DiskProgress => ({
    given: disk.given,
    number: disk.kind === 'disk' ? disk.label.index + 1 : 0,
    phase: 'identifying',
    totalFiles: disk.kind === 'disk' ? disk.record.files : 0,
    totalBytes: 0,
    filesDone: 0,
    bytesDone: 0,
    filesBefore: 0,
    bytesBefore: 0,
    filesFailed: 0,
    bytesUploaded: 0,
    startedAt: options.clock.now(),
  }));
  options.io.started(progress);

  const workers = options.workers ?? 0;
  const pool = new OpenPool(workers);
  let listing: Promise<ReadonlyMap<string, number>> | undefined;
  const ctx: IngestContext = {
    service,
    storage: options.storage,
    jobId,
    pool,
    budget: new ByteBudget(options.maxBytesInFlight ?? 128 * 1024 * 1024),
    imported: () => (listing ??= listImport(options.storage)),
    clock: options.clock,
    failpoints: options.failpoints ?? noFailpoints,
    ...(options.signal ? { signal: options.signal } : {}),
    progressIntervalMs: options.progressIntervalMs ?? 2000,
    window: options.window ?? 2 * Math.max(1, workers) + 2,
    readBytes: options.readBytes ?? 8 * 1024 * 1024,
    note: (message) => options.io.note(message),
    onJob: (answered) => (job = answered),
  };
  let interrupted: InterruptedError | undefined;
  let outcomes: DiskOutcome[];
  try {
    outcomes = await Promise.all(
      plan.map(async (disk, i): Promise<DiskOutcome> => {
        const counters = progress[i]!;
        try {
          if (disk.kind === 'refused') return await refuseDisk(ctx, disk, final);
          if (final) return alreadyFinal(disk, job);
          return await ingestDisk(ctx, disk, counters);
        } catch (err) {
          if (err instanceof InterruptedError) interrupted ??= err;
          const index = disk.kind === 'disk' ? disk.label.index : disk.index;
          return { given: disk.given, index, diskId: disk.kind === 'disk' ? disk.label.diskId : null, state: 'Stopped', message: `${disk.given}: ${(err as Error).message}`, filesOk: 0, filesFailed: counters.filesFailed, filesBefore: counters.filesBefore, bytesUploaded: counters.bytesUploaded, alreadyFinal: false };
        } finally {
          counters.phase = 'done';
        }
      }),
    );
  } finally {
    await pool.close();
  }
  if (interrupted || options.signal?.aborted) throw interrupted ?? new InterruptedError('ingest interrupted');
  job = await service.getJob(jobId);
  return { job, disks: outcomes, exitCode: exitCodeOf(outcomes) };
}

/** The exit code of the contract: 1 beats 3 beats 0. */
export function exitCodeOf(outcomes: readonly DiskOutcome[]): 0 | 1 | 3 {
  if (outcomes.some((o) => o.state !== 'Completed' && o.state !== 'CompletedWithErrors')) return 1;
  return outcomes.some((o) => o.state === 'CompletedWithErrors') ? 3 : 0;
}

/**
 * Throws a `UserError` saying what to do when `job` is in no state to ingest (not received yet, deleted,
 * cancelled); a job being or already ingested passes (a rerun reports what is final).
 */
export function checkIngestable(job: Pick<ImportJob, 'name' | 'state'>): void {
  if (INGESTING_JOB_STATES.includes(job.state) || INGESTED_JOB_STATES.includes(job.state)) return;
  const name = `import job ${job.name}`;
  switch (job.state) {
    case 'Shipping':
      throw new UserError(`${name} is Shipping: mark its disks received first: ferry datacenter receive ${job.name}`);
    case 'Creating':
      throw new UserError(`${name} is Creating: its disks were never shipped; refuse them`);
    case 'Deleted':
      throw new UserError(`${name} was deleted at its tracking deadline: its disks are refused`);
    default:
      throw new UserError(`${name} is ${job.state}: its disks are refused`);
  }
}

async function refuseDisk(ctx: IngestContext, disk: RefusedDisk, final: boolean): Promise<DiskOutcome> {
  ctx.note(`refused: ${disk.message}`);
  // A final job takes no more log entries; the refusal is still reported here.
  return final ? refuse(ctx, { ...disk, problem: undefined }) : refuse(ctx, disk);
}

function alreadyFinal(disk: IdentifiedDisk, job: ImportJob): DiskOutcome {
  const state = job.disks.find((d) => d.index === disk.label.index)?.state ?? 'Failed';
  const shown = state === 'Prepared' || state === 'Received' || state === 'Transferring' ? 'Failed' : state;
  return { given: disk.given, index: disk.label.index, diskId: disk.label.diskId, state: shown, message: `disk ${disk.label.index + 1}: import job ${job.name} is already ${job.state} (this disk ${state}): nothing to do`, filesOk: 0, filesFailed: 0, filesBefore: 0, bytesUploaded: 0, alreadyFinal: true };
}

/** Every object already in the import, by key. */
async function listImport(storage: IngestStorage): Promise<ReadonlyMap<string, number>> {
  const objects = new Map<string, number>();
  for (const folder of ['data/', 'index/', 'snapshots/']) await storage.list(folder, (info) => void objects.set(info.key, info.size));
  return objects;
}
