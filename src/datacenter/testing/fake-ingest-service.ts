import { ConflictError, NotFoundError } from '../../core/errors.js';
import type { ImportJob, ImportJobDisk } from '../../contract/import-job.js';
import { MAX_RESULTS_PER_BATCH, type DiskIngestRequest, type DiskKeyRelease, type ErrorLogEntry, type FileResult, type IngestProblem, type IngestProgressReport, type IngestStart } from '../../contract/ingest.js';
import type { DiskState, JobState } from '../../contract/job-states.js';
import type { IngestService } from '../ingest-service.js';

/** An error answer of the fake: the HTTP status and code the real service uses. */
export class FakeIngestError extends ConflictError {
  override readonly code: string;
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    super(message);
    this.code = code;
  }
}

type Route = 'getJob' | 'receive' | 'releaseDiskKey' | 'startDisk' | 'postResults' | 'finishDisk' | 'reportProblem' | 'listErrors';

interface StoredResult extends FileResult {
  readonly at: string;
  readonly diskIndex: number;
}

const FINAL_DISK: ReadonlySet<DiskState> = new Set(['Completed', 'CompletedWithErrors', 'Failed', 'NeverReceived']);
const FINAL_JOB: ReadonlySet<JobState> = new Set(['Completed', 'CompletedWithErrors', 'Failed', 'Adopted', 'Closed']);

/**
 * The operator's import-job routes of the issue-6 contract, in memory, for one or more jobs: receive,
 * key release (audited), ingest start with the done list, results upserted by path, finish with the
 * outcome rules, the error log. Every call is recorded (`calls`); `failNext` makes a route fail once.
 */
export class FakeIngestService implements IngestService {
  readonly calls: string[] = [];
  readonly keyReleases: { jobId: string; index: number }[] = [];
  private readonly jobs = new Map<string, ImportJob>();
  private readonly keys = new Map<string, Map<number, string>>();
  private readonly results = new Map<string, Map<string, StoredResult>>();
  private readonly problems = new Map<string, ErrorLogEntry[]>();
  private readonly faults: { route: Route; error: Error }[] = [];

  constructor(private readonly now: () => Date = () => new Date()) {}

  /** Adds a job (as the service holds it after diskprep) and the escrowed keys of its disks by index. */
  addJob(job: ImportJob, keys: ReadonlyMap<number, string>): void {
    this.jobs.set(job.id, { ...job, disks: job.disks.map((d) => ({ ...d, progress: null })) });
    this.keys.set(job.id, new Map(keys));
    this.results.set(job.id, new Map());
    this.problems.set(job.id, []);
  }

  /** Changes a job's state as another actor would (shipping, deletion, cancellation). */
  setState(jobId: string, state: JobState): void {
    this.jobs.set(jobId, { ...this.job(jobId), state });
  }

  /** Changes what the service has registered for disk `index` (e.g. the manifest's SHA-256). */
  patchDisk(jobId: string, index: number, patch: Partial<Pick<ImportJobDisk, 'id' | 'manifestSha256' | 'files' | 'state'>>): void {
    const job = this.job(jobId);
    this.jobs.set(jobId, this.withDisk(job, { ...this.disk(job, index), ...patch }));
  }

  /** The next call of `route` fails with `error` (before doing anything). */
  failNext(route: Route, error: Error): void {
    this.faults.push({ route, error });
  }

  /** Every recorded result of a job, by path. */
  resultsOf(jobId: string): ReadonlyMap<string, FileResult & { diskIndex: number }> {
    return this.results.get(jobId) ?? new Map();
  }

  async getJob(jobId: string): Promise<ImportJob> {
    this.enter('getJob', jobId);
    return this.job(jobId);
  }

  async receive(jobId: string): Promise<ImportJob> {
    this.enter('receive', jobId);
    const job = this.job(jobId);
    if (job.state === 'Deleted') throw new FakeIngestError(409, 'JOB_EXPIRED', `import job ${job.name} was deleted at its tracking deadline: its disks are refused`);
    if (job.state !== 'Shipping') throw new FakeIngestError(409, 'ILLEGAL_TRANSITION', `import job ${job.name} is ${job.state}: it cannot be received`);
    const at = this.now().toISOString();
    return this.save({ ...job, state: 'Received', receivedAt: at, timeline: [...job.timeline, { at, state: 'Received', actor: 'operator:test' }] });
  }

  async releaseDiskKey(jobId: string, index: number, diskId: string): Promise<DiskKeyRelease> {
    this.enter('releaseDiskKey', `${jobId} ${index}`);
    const job = this.ingesting(jobId);
    const disk = this.disk(job, index);
    this.checkDiskId(job, disk, diskId);
    const key = this.keys.get(jobId)?.get(index);
    if (key === undefined) throw new NotFoundError(`no key for disk ${index + 1}`);
    this.keyReleases.push({ jobId, index });
    const at = this.now().toISOString();
    this.save({ ...job, timeline: [...job.timeline, { at, state: job.state, actor: 'operator:test', note: `disk key of disk ${index + 1} released to operator test` }] });
    return { diskId: disk.id, diskKey: key };
  }

  async startDisk(jobId: string, index: number, request: DiskIngestRequest): Promise<IngestStart> {
    this.enter('startDisk', `${jobId} ${index}`);
    let job = this.job(jobId);
    const disk = this.disk(job, index);
    this.checkDiskId(job, disk, request.diskId);
    if (request.manifestSha256 !== disk.manifestSha256) {
      this.log(jobId, { diskIndex: index, path: null, code: 'ManifestCorrupted', message: `the manifest of disk ${index + 1} is not the registered one` });
      throw new FakeIngestError(409, 'MANIFEST_MISMATCH', `the manifest of disk ${index + 1} is not the one registered`);
    }
    if (FINAL_JOB.has(job.state) || FINAL_DISK.has(disk.state)) return { job, finished: true, done: [] };
    job = this.ingesting(jobId);
    const at = this.now().toISOString();
    if (disk.state !== 'Transferring') {
      const progress = { bytesDone: 0, filesDone: 0, filesFailed: 0, startedAt: at, updatedAt: at };
      job = this.withDisk(job, { ...disk, state: 'Transferring', progress });
      if (job.state === 'Received') job = { ...job, state: 'Transferring', timeline: [...job.timeline, { at, state: 'Transferring', actor: 'operator:test' }] };
      this.save(job);
    }
    const done = [...this.results.get(jobId)!.values()].filter((r) => r.diskIndex === index && r.code === 'Ok').map((r) => ({ path: r.path, size: r.size, sha256: r.sha256! }));
    return { job, finished: false, done };
  }

  async postResults(jobId: string, index: number, results: readonly FileResult[], progress: IngestProgressReport): Promise<void> {
    this.enter('postResults', `${jobId} ${index} ${results.length}`);
    const job = this.job(jobId);
    const disk = this.disk(job, index);
    if (disk.state !== 'Transferring') throw new FakeIngestError(409, 'ILLEGAL_TRANSITION', `disk ${index + 1} is ${disk.state}, not Transferring`);
    if (results.length > MAX_RESULTS_PER_BATCH) throw new FakeIngestError(400, 'INVALID', 'too many results');
    const stored = this.results.get(jobId)!;
    const at = this.now().toISOString();
    for (const r of results) {
      if (r.code === 'Ok' && r.sha256 === null) throw new FakeIngestError(400, 'INVALID', 'an Ok result needs its sha256');
      stored.set(r.path, { ...r, at, diskIndex: index });
    }
    const failed = [...stored.values()].filter((r) => r.diskIndex === index && r.code !== 'Ok').length;
    this.save(this.withDisk(job, { ...disk, progress: { ...disk.progress!, bytesDone: progress.bytesDone, filesDone: progress.filesDone, filesFailed: failed, updatedAt: at } }));
  }

  async finishDisk(jobId: string, index: number): Promise<ImportJob> {
    this.enter('finishDisk', `${jobId} ${index}`);
    let job = this.job(jobId);
    const disk = this.disk(job, index);
    if (disk.state !== 'Transferring') throw new FakeIngestError(409, 'ILLEGAL_TRANSITION', `disk ${index + 1} is ${disk.state}, not Transferring`);
    const ok = [...this.results.get(jobId)!.values()].filter((r) => r.diskIndex === index && r.code === 'Ok').length;
    const state: DiskState = ok === disk.files ? 'Completed' : ok > 0 ? 'CompletedWithErrors' : 'Failed';
    job = this.withDisk(job, { ...disk, state });
    if (job.disks.every((d) => FINAL_DISK.has(d.state))) {
      const anyOk = [...this.results.get(jobId)!.values()].some((r) => r.code === 'Ok');
      const clean = job.disks.every((d) => d.state === 'Completed') && this.errors(jobId).length === 0;
      const final: JobState = clean ? 'Completed' : anyOk ? 'CompletedWithErrors' : 'Failed';
      const at = this.now().toISOString();
      job = { ...job, state: final, timeline: [...job.timeline, { at, state: final, actor: 'operator:test' }] };
    }
    return this.save(job);
  }

  async reportProblem(jobId: string, problem: IngestProblem): Promise<void> {
    this.enter('reportProblem', `${jobId} ${problem.code}`);
    this.ingesting(jobId);
    this.log(jobId, problem);
  }

  async listErrors(jobId: string): Promise<ErrorLogEntry[]> {
    this.enter('listErrors', jobId);
    this.job(jobId);
    return this.errors(jobId);
  }

  private errors(jobId: string): ErrorLogEntry[] {
    const fileErrors = [...this.results.get(jobId)!.values()]
      .filter((r) => r.code !== 'Ok')
      .map((r): ErrorLogEntry => ({ at: r.at, diskIndex: r.diskIndex, path: r.path, code: r.code as ErrorLogEntry['code'], message: r.message ?? '' }));
    return [...this.problems.get(jobId)!, ...fileErrors].sort((a, b) => a.at.localeCompare(b.at));
  }

  private log(jobId: string, problem: IngestProblem): void {
    this.problems.get(jobId)!.push({ at: this.now().toISOString(), ...problem });
    const job = this.job(jobId);
    this.jobs.set(jobId, { ...job, errorCount: this.errors(jobId).length });
  }

  private enter(route: Route, what: string): void {
    this.calls.push(`${route} ${what}`);
    const at = this.faults.findIndex((f) => f.route === route);
    if (at >= 0) throw this.faults.splice(at, 1)[0]!.error;
  }

  private job(jobId: string): ImportJob {
    const job = this.jobs.get(jobId);
    if (!job) throw new FakeIngestError(404, 'NOT_FOUND', `import job ${jobId} not found`);
    return job;
  }

  /** The job, when it is Received or Transferring (409 otherwise, JOB_EXPIRED for a deleted one). */
  private ingesting(jobId: string): ImportJob {
    const job = this.job(jobId);
    if (job.state === 'Deleted') throw new FakeIngestError(409, 'JOB_EXPIRED', `import job ${job.name} was deleted at its tracking deadline: its disks are refused`);
    if (job.state !== 'Received' && job.state !== 'Transferring') throw new FakeIngestError(409, 'ILLEGAL_TRANSITION', `import job ${job.name} is ${job.state}`);
    return job;
  }

  private disk(job: ImportJob, index: number): ImportJobDisk {
    const disk = job.disks.find((d) => d.index === index);
    if (!disk) throw new FakeIngestError(404, 'NOT_FOUND', `import job ${job.name} has no disk ${index + 1}`);
    return disk;
  }

  private checkDiskId(job: ImportJob, disk: ImportJobDisk, diskId: string): void {
    if (disk.id === diskId) return;
    this.log(job.id, { diskIndex: disk.index, path: null, code: 'DiskIdMismatch', message: `disk ${disk.index + 1} presented with id ${diskId}, registered ${disk.id}` });
    throw new FakeIngestError(409, 'DISK_ID_MISMATCH', `disk ${disk.index + 1} of import job ${job.name} has another id`);
  }

  private withDisk(job: ImportJob, disk: ImportJobDisk): ImportJob {
    return { ...job, disks: job.disks.map((d) => (d.index === disk.index ? disk : d)) };
  }

  private save(job: ImportJob): ImportJob {
    const withCount = { ...job, errorCount: this.problems.get(job.id) ? this.errors(job.id).length : job.errorCount };
    this.jobs.set(job.id, withCount);
    return withCount;
  }
}

