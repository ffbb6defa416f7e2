/** Types shared by the ingest of one disk (disk-ingest.ts), the whole run (ingest.ts) and its callers. */
import type { Clock } from '../core/clock.js';
import type { Failpoints } from '../core/failpoints.js';
import type { ImportJob } from '../contract/import-job.js';
import type { DiskState } from '../contract/job-states.js';
import type { Storage } from '../storage/storage.js';
import type { ByteBudget } from '../core/byte-budget.js';
import type { IngestService } from './ingest-service.js';
import type { OpenPool } from './open-pool.js';

/** Live counters of one disk's ingest; a progress display samples them. */
export interface DiskProgress {
  /** The path the disk was given at. */
  readonly given: string;
  /** The disk's number as people see it (index + 1); 0 until the label is read. */
  number: number;
  phase: 'identifying' | 'ingesting' | 'finishing' | 'done';
  /** Files and plaintext bytes of the manifest (0 until it is opened). */
  totalFiles: number;
  totalBytes: number;
  /** Files with a result, and their bytes, this run and earlier runs together. */
  filesDone: number;
  bytesDone: number;
  /** Files done in earlier runs (skipped now). */
  filesBefore: number;
  bytesBefore: number;
  filesFailed: number;
  /** Plaintext bytes this run uploaded. */
  bytesUploaded: number;
  /** When this run started the disk's files (clock ms), for the rate. */
  startedAt: number;
}

/** How one disk ended in this run. `Refused`: not ingested; `Stopped`: interrupted, a rerun resumes. */
export interface DiskOutcome {
  readonly given: string;
  readonly index: number | null;
  readonly diskId: string | null;
  readonly state: DiskState | 'Refused' | 'Stopped';
  /** One line: why refused or stopped, or a summary. */
  readonly message: string;
  readonly filesOk: number;
  readonly filesFailed: number;
  /** Files an earlier run had already done. */
  readonly filesBefore: number;
  readonly bytesUploaded: number;
  /** True when the disk (or the job) was already final before this run: nothing was done. */
  readonly alreadyFinal: boolean;
}

/** What every disk of one ingest shares. */
export interface IngestContext {
  readonly service: IngestService;
  /** The job's import (`…/v1/import-jobs/<jobId>` as a Storage). */
  readonly storage: Storage;
  readonly jobId: string;
  readonly pool: OpenPool;
  readonly budget: ByteBudget;
  /** The import's objects (key → size), listed once per run; may be stale, which only costs a re-upload. */
  readonly imported: () => Promise<ReadonlyMap<string, number>>;
  readonly clock: Clock;
  readonly failpoints: Failpoints;
  readonly signal?: AbortSignal;
  /** Progress goes to the service at least this often. */
  readonly progressIntervalMs: number;
  /** Files of one disk in flight at once. */
  readonly window: number;
  /** Bytes per read from a disk. */
  readonly readBytes: number;
  /** Notes for the operator (one line each). */
  readonly note: (message: string) => void;
  /** Called with the job whenever the service answers it. */
  readonly onJob?: (job: ImportJob) => void;
}
