/** Types shared by the ingest of one disk (disk-ingest.ts), the whole run (ingest.ts) and its callers. */
import type { Clock } from '../core/clock.js';
import type { Failpoints } from '../core/failpoints.js';
import type { ImportJob } from '../contract/import-job.js';
import type { Storage } from '../storage/storage.js';
import type { ByteBudget } from '../core/byte-budget.js';
import type { IngestService } from './ingest-service.js';
import type { OpenPool } from './open-pool.js';

/** A disk's live counters and how it ended: the contract's types (src/contract/ingest.ts). */
export type { DiskOutcome, DiskProgress } from '../contract/ingest.js';

/** What ingest needs of the job's import: storing a file, and listing what it already holds. */
export type IngestStorage = Pick<Storage, 'save' | 'list'>;

/** What every disk of one ingest shares. */
export interface IngestContext {
  readonly service: IngestService;
  /** The job's import (`…/v1/import-jobs/<jobId>` over HTTP, or the service's own on its host). */
  readonly storage: IngestStorage;
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
