/**
 * What the datacenter's ingest needs of the service (the import-job routes of docs/service.md that the
 * operator token may call), as a small interface: the CLI implements it over HTTP (validating every
 * answer with the contract's schemas, src/contract/ingest.ts), tests with the
 * in-process fake in testing/. Errors are the service's: a `FerryError` whose `code` is the service's
 * code (`ILLEGAL_TRANSITION`, `JOB_EXPIRED`, `DISK_ID_MISMATCH`, `MANIFEST_MISMATCH`, `NOT_FOUND`, …).
 */
import type { ImportJob } from '../contract/import-job.js';
import type { DiskIngestRequest, DiskKeyRelease, ErrorLogEntry, FileResult, IngestProblem, IngestProgressReport, IngestStart } from '../contract/ingest.js';
import { FerryError } from '../core/errors.js';

/** The operator's import-job routes. */
export interface IngestService {
  /** `GET /v1/import-jobs/:jobId`. */
  getJob(jobId: string): Promise<ImportJob>;
  /** `POST …/receive`: Shipping → Received. */
  receive(jobId: string): Promise<ImportJob>;
  /** `GET …/disks/:index/key?diskId=`: releases the disk key (audited on the job's timeline). */
  releaseDiskKey(jobId: string, index: number, diskId: string): Promise<DiskKeyRelease>;
  /** `POST …/disks/:index/ingest`: the disk becomes Transferring (unless final); answers what is done. */
  startDisk(jobId: string, index: number, request: DiskIngestRequest): Promise<IngestStart>;
  /** `POST …/disks/:index/results`: up to MAX_RESULTS_PER_BATCH (src/contract/ingest.ts) results (upserted by path) and the progress. */
  postResults(jobId: string, index: number, results: readonly FileResult[], progress: IngestProgressReport): Promise<void>;
  /** `POST …/disks/:index/finish`: the disk's outcome is computed; answers the job. */
  finishDisk(jobId: string, index: number): Promise<ImportJob>;
  /** `POST …/errors`: logs a problem that is not a file result. */
  reportProblem(jobId: string, problem: IngestProblem): Promise<void>;
  /** `GET …/errors`: the job's error log, oldest first. */
  listErrors(jobId: string): Promise<ErrorLogEntry[]>;
}

/** The service's code of an error answer (`FerryError.code`), or undefined for anything else. */
export function serviceCode(err: unknown): string | undefined {
  return err instanceof FerryError ? err.code : undefined;
}
