import { randomBytes, randomUUID } from 'node:crypto';
import { UserError } from '../../core/errors.js';
import { isDiskId } from '../disk-format.js';
import type { DiskRegistration, DiskReplacement, ImportJob, ImportJobDisk, PreparedJob } from '../../contract/import-job.js';
import type { JobService } from '../job-service.js';

/** An error the fake service answers with: the HTTP status and code the real one uses. */
export class FakeServiceError extends UserError {
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

export interface FakeJobServiceSettings {
  readonly maxDisks?: number;
  readonly maxDiskBytes?: number;
  readonly shippingAddress?: string;
  readonly now?: () => Date;
}

/**
 * The import-job rules diskprep relies on (the contract of issue 5), in memory: PUT disk only while the
 * job is Creating and not yet prepared, index 0…maxDisks−1, bytes within the limit, same index replaced;
 * prepared only when disks 0…N−1 (and no others) are registered. Keeps the escrowed keys for tests.
 */
export class FakeJobService implements JobService {
  readonly jobs = new Map<string, { job: ImportJob; token: string }>();
  /** Escrowed disk keys by job id and disk index (base64, as sent). */
  readonly escrow = new Map<string, Map<number, string>>();
  readonly calls: string[] = [];
  private readonly maxDisks: number;
  private readonly maxDiskBytes: number;
  readonly shippingAddress: string;
  private readonly now: () => Date;

  constructor(settings: FakeJobServiceSettings = {}) {
    this.maxDisks = settings.maxDisks ?? 10;
    this.maxDiskBytes = settings.maxDiskBytes ?? 10 * 1000 ** 4;
    this.shippingAddress = settings.shippingAddress ?? 'Ferry Import Desk, 1 Datacenter Way, Testville';
    this.now = settings.now ?? (() => new Date());
  }

  /** A job in state Creating and its job token. */
  createJob(name: string): { job: ImportJob; token: string } {
    const at = this.now().toISOString();
    const job: ImportJob = {
      id: randomUUID(),
      name,
      tenantId: randomUUID(),
      vaultId: randomUUID(),
      storageAccountId: randomUUID(),
      container: 'import',
      state: 'Creating',
      createdAt: at,
      preparedAt: null,
      trackingDeadline: null,
      carrier: null,
      trackingNumber: null,
      returnAddress: null,
      shippedAt: null,
      receivedAt: null,
      disks: [],
      errorCount: 0,
      adoption: null,
      timeline: [{ at, state: 'Creating', actor: 'agent:test' }],
    };
    const entry = { job, token: `fry_job_${randomBytes(32).toString('base64url')}` };
    this.jobs.set(job.id, entry);
    return entry;
  }

  /** Changes a job's state, as another actor would (e.g. a cancellation). */
  setState(jobId: string, state: ImportJob['state']): void {
    const entry = this.entry(jobId);
    entry.job = { ...entry.job, state };
  }

  async getJob(jobId: string): Promise<ImportJob> {
    this.calls.push(`GET ${jobId}`);
    return this.entry(jobId).job;
  }

  async putDisk(jobId: string, index: number, disk: DiskRegistration): Promise<ImportJob> {
    this.calls.push(`PUT ${jobId} ${index}`);
    const entry = this.entry(jobId);
    if (entry.job.state !== 'Creating' || entry.job.preparedAt !== null) throw new FakeServiceError(409, 'ILLEGAL_TRANSITION', `job ${entry.job.name} is ${entry.job.state} and takes no disks`);
    if (!Number.isInteger(index) || index < 0 || index >= this.maxDisks) throw new FakeServiceError(409, 'LIMIT', `a job has at most ${this.maxDisks} disks`);
    if (!(disk.bytes <= this.maxDiskBytes)) throw new FakeServiceError(409, 'LIMIT', `a disk holds at most ${this.maxDiskBytes} bytes`);
    if (!isDiskId(disk.diskId) || !/^[0-9a-f]{64}$/.test(disk.manifestSha256) || Buffer.from(disk.diskKey, 'base64').length !== 32 || !(disk.files >= 0)) {
      throw new FakeServiceError(400, 'INVALID', 'invalid disk registration');
    }
    const record: ImportJobDisk = { id: disk.diskId, index, state: 'Prepared', bytes: disk.bytes, files: disk.files, manifestSha256: disk.manifestSha256, progress: null };
    entry.job = { ...entry.job, disks: [...entry.job.disks.filter((d) => d.index !== index), record].sort((a, b) => a.index - b.index) };
    let keys = this.escrow.get(jobId);
    if (!keys) this.escrow.set(jobId, (keys = new Map<number, string>()));
    keys.set(index, disk.diskKey);
    return entry.job;
  }

  async markPrepared(jobId: string, disks: number): Promise<PreparedJob> {
    this.calls.push(`POST prepared ${jobId} ${disks}`);
    const entry = this.entry(jobId);
    if (entry.job.state !== 'Creating' || entry.job.preparedAt !== null) throw new FakeServiceError(409, 'ILLEGAL_TRANSITION', `job ${entry.job.name} is ${entry.job.state}${entry.job.preparedAt ? ', already prepared' : ''}`);
    const indexes = entry.job.disks.map((d) => d.index);
    if (disks < 1 || indexes.length !== disks || indexes.some((index, i) => index !== i)) {
      throw new FakeServiceError(409, 'DISKS_MISSING', `job ${entry.job.name} has disks ${indexes.join(', ') || 'none'}, not 0…${disks - 1}`);
    }
    const at = this.now().toISOString();
    entry.job = { ...entry.job, preparedAt: at, timeline: [...entry.job.timeline, { at, state: 'Creating', actor: 'job:test', note: `${disks} disks prepared` }] };
    return { job: entry.job, shippingAddress: this.shippingAddress };
  }

  async replaceDisk(jobId: string, index: number, disk: DiskReplacement): Promise<ImportJob> {
    this.calls.push(`PUT replacement ${jobId} ${index}`);
    const entry = this.entry(jobId);
    const { job } = entry;
    if (job.preparedAt === null || !['Creating', 'Shipping', 'Received', 'Transferring'].includes(job.state)) {
      throw new FakeServiceError(409, 'ILLEGAL_TRANSITION', `job ${job.name} is ${job.state}${job.preparedAt === null ? ', not prepared' : ''}: no disk can be replaced`);
    }
    const old = job.disks.find((d) => d.index === index);
    if (!old || old.id !== disk.replaces) throw new FakeServiceError(409, 'DISK_ID_MISMATCH', `disk ${index} of job ${job.name} is not ${disk.replaces}`);
    if (!['Prepared', 'Received', 'NeverReceived'].includes(old.state)) throw new FakeServiceError(409, 'ILLEGAL_TRANSITION', `disk ${index} is ${old.state}: its ingest started`);
    const record: ImportJobDisk = { id: disk.diskId, index, state: 'Prepared', bytes: disk.bytes, files: disk.files, manifestSha256: disk.manifestSha256, progress: null };
    entry.job = { ...job, disks: job.disks.map((d) => (d.index === index ? record : d)) };
    this.escrow.get(jobId)!.set(index, disk.diskKey);
    return entry.job;
  }

  private entry(jobId: string): { job: ImportJob; token: string } {
    const entry = this.jobs.get(jobId);
    if (!entry) throw new FakeServiceError(404, 'NOT_FOUND', `import job ${jobId} not found`);
    return entry;
  }
}
