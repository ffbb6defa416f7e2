import { systemClock } from '../../core/clock.js';
import type { Failpoints } from '../../core/failpoints.js';
import type { ImportJob } from '../../contract/import-job.js';
import { DiskprepFixture } from '../../seed/testing/diskprep-fixture.js';
import type { Storage } from '../../storage/storage.js';
import { runIngest, type IngestResult } from '../ingest.js';
import type { DiskProgress } from '../ingest-types.js';
import { FakeIngestService } from './fake-ingest-service.js';
import { FakeImportStorage } from './import-storage.js';

/** Options of one ingest run in a test. */
export interface FixtureRun {
  readonly storage?: Storage;
  readonly failpoints?: Failpoints;
  readonly signal?: AbortSignal;
  readonly workers?: number;
  readonly window?: number;
  readonly progressIntervalMs?: number;
}

/**
 * Real disks made by diskprep (small segments, several disks) from a staging location of content-named
 * files, a fake service holding their job in state Shipping with the escrowed keys, and a fake import.
 */
export class IngestFixture {
  readonly service = new FakeIngestService();
  readonly storage = new FakeImportStorage();
  readonly notes: string[] = [];
  progress: readonly DiskProgress[] = [];
  disks: string[] = [];

  private constructor(readonly prep: DiskprepFixture) {}

  /** Prepares disks of at most `maxBytesPerDisk` each for files of the given sizes. */
  static async create(sizes: { data: number[]; index?: number[]; snapshots?: number[] }, maxBytesPerDisk: number, diskNames = ['disk-1', 'disk-2', 'disk-3']): Promise<IngestFixture> {
    const prep = await DiskprepFixture.create(sizes);
    const fixture = new IngestFixture(prep);
    fixture.disks = await Promise.all(diskNames.map((name) => prep.disk(name)));
    const result = await prep.run(fixture.disks, { maxBytesPerDisk });
    fixture.disks = result.disks.map((d) => d.path);
    const job = await prep.service.getJob(prep.seed.jobId);
    const keys = new Map([...(prep.service.escrow.get(job.id) ?? new Map<number, string>())]);
    fixture.service.addJob({ ...job, state: 'Shipping', shippedAt: new Date().toISOString() }, keys);
    return fixture;
  }

  get jobId(): string {
    return this.prep.seed.jobId;
  }

  job(): Promise<ImportJob> {
    return this.service.getJob(this.jobId);
  }

  /** Ingests the disks at `paths` (default: all, in index order). */
  ingest(paths: readonly string[] = this.disks, options: FixtureRun = {}): Promise<IngestResult> {
    return runIngest({
      service: this.service,
      storage: options.storage ?? this.storage,
      jobId: this.jobId,
      disks: paths,
      io: { note: (message) => this.notes.push(message), started: (disks) => (this.progress = disks) },
      clock: systemClock,
      workers: options.workers ?? 0,
      window: options.window ?? 3,
      progressIntervalMs: options.progressIntervalMs ?? 50,
      ...(options.failpoints ? { failpoints: options.failpoints } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  cleanup(): Promise<void> {
    return this.prep.cleanup();
  }
}
