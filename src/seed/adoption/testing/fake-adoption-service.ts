import { UserError } from '../../../core/errors.js';
import type { Storage } from '../../../storage/storage.js';
import type { ImportJob, ImportJobAdoption } from '../../../contract/import-job.js';
import type { ErrorLogEntry } from '../../../contract/ingest.js';
import type { JobState } from '../../../contract/job-states.js';
import type { AdoptionService } from '../adoption-service.js';
import { ADOPTED_KINDS, listContentObjects } from '../content-objects.js';

/** An error answer of the fake, with the status and code the real service uses. */
export class FakeAdoptionError extends UserError {
  constructor(
    readonly status: number,
    override readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The adoption rules of the issue-6 contract over two storages, in memory: `adopt` is allowed in
 * Completed/CompletedWithErrors, idempotent while Running with the same exclude set (409 otherwise); the
 * copy (packs, index, snapshots; excluded keys left out) happens after `pollsUntilDone` reads of the job,
 * or fails with `failWith`; `close` only from Adopted. Records the calls made.
 */
export class FakeAdoptionService implements AdoptionService {
  job: ImportJob;
  errors: ErrorLogEntry[] = [];
  readonly calls: string[] = [];
  pollsUntilDone = 1;
  failWith: string | undefined;
  private exclude: readonly string[] = [];
  private polls = 0;

  constructor(
    private readonly imported: Storage,
    private readonly vault: Storage,
    state: JobState = 'Completed',
  ) {
    this.job = fakeJob(state);
  }

  setState(state: JobState): void {
    this.job = { ...this.job, state };
  }

  async getJob(jobId: string): Promise<ImportJob> {
    this.calls.push(`get ${jobId}`);
    if (this.job.adoption?.state === 'Running' && ++this.polls >= this.pollsUntilDone) await this.finish();
    return this.job;
  }

  async listErrors(jobId: string): Promise<readonly ErrorLogEntry[]> {
    this.calls.push(`errors ${jobId}`);
    return this.errors;
  }

  async requestAdoption(jobId: string, exclude: readonly string[]): Promise<ImportJob> {
    this.calls.push(`adopt ${jobId} [${exclude.join(',')}]`);
    if (exclude.some((key) => !key.startsWith('index/'))) throw new FakeAdoptionError(400, 'INVALID', 'only index/ keys may be excluded');
    const running = this.job.adoption?.state === 'Running';
    if (this.job.state === 'Adopted') return this.job;
    if (running && [...exclude].sort().join() !== [...this.exclude].sort().join()) throw new FakeAdoptionError(409, 'ADOPTION_RUNNING', 'an adoption with another exclude set is running');
    if (running) return this.job;
    if (this.job.state !== 'Completed' && this.job.state !== 'CompletedWithErrors') throw new FakeAdoptionError(409, 'ILLEGAL_TRANSITION', `the job is ${this.job.state}`);
    this.exclude = [...exclude];
    this.polls = 0;
    this.job = { ...this.job, adoption: adoption('Running', exclude.length) };
    return this.job;
  }

  async closeJob(jobId: string): Promise<ImportJob> {
    this.calls.push(`close ${jobId}`);
    if (this.job.state === 'Closed') return this.job;
    if (this.job.state !== 'Adopted') throw new FakeAdoptionError(409, 'ILLEGAL_TRANSITION', `the job is ${this.job.state}, not Adopted`);
    for (const kind of ADOPTED_KINDS) for (const key of (await listContentObjects(this.imported, kind)).keys()) await this.imported.remove(key);
    this.job = { ...this.job, state: 'Closed' };
    return this.job;
  }

  private async finish(): Promise<void> {
    if (this.failWith !== undefined) {
      this.job = { ...this.job, adoption: { ...adoption('Failed', this.exclude.length), error: this.failWith } };
      return;
    }
    let objects = 0;
    let bytes = 0;
    for (const kind of ADOPTED_KINDS) {
      for (const key of (await listContentObjects(this.imported, kind)).keys()) {
        if (this.exclude.includes(key)) continue;
        const data = await this.imported.load(key);
        await this.vault.save(key, data);
        objects++;
        bytes += data.length;
      }
    }
    this.job = { ...this.job, state: 'Adopted', adoption: { ...adoption('Done', this.exclude.length), objectsTotal: objects, objectsDone: objects, bytesDone: bytes } };
  }
}

function adoption(state: ImportJobAdoption['state'], excluded: number): ImportJobAdoption {
  return { state, objectsTotal: null, objectsDone: 0, bytesDone: 0, excluded, serverSideCopy: false, startedAt: '2026-11-25T00:00:00.000Z', finishedAt: null, error: null };
}

function fakeJob(state: JobState): ImportJob {
  return {
    id: 'job-1',
    name: 'first-seed',
    tenantId: 't',
    vaultId: 'v',
    storageAccountId: 'sa',
    container: 'c',
    state,
    createdAt: '2026-11-01T00:00:00.000Z',
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
    timeline: [],
  };
}
