/**
 * What diskprep needs of the service (the import-job routes of docs/service.md), as a small interface:
 * the CLI implements it over HTTP with the job token (validating every answer with the contract's
 * schemas), tests with an in-process fake. The shapes are the import-job contract's (src/contract/import-job.ts).
 */
import type { DiskRegistration, DiskReplacement, ImportJob, PreparedJob } from '../contract/import-job.js';

/**
 * The import-job calls of the job token. Errors are the service's (a `UserError` with the service's code
 * over HTTP: 404 unknown job, 409 wrong state or limits, 401 bad token).
 */
export interface JobService {
  /** `GET /v1/import-jobs/:jobId`. */
  getJob(jobId: string): Promise<ImportJob>;
  /** `PUT /v1/import-jobs/:jobId/disks/:index`: registers (or replaces) disk `index` and escrows its key. */
  putDisk(jobId: string, index: number, disk: DiskRegistration): Promise<ImportJob>;
  /** `POST /v1/import-jobs/:jobId/prepared`: all `disks` disks (indexes 0…disks−1) are registered. */
  markPrepared(jobId: string, disks: number): Promise<PreparedJob>;
  /**
   * `PUT /v1/import-jobs/:jobId/disks/:index/replacement`: registers a new disk in place of one that has not
   * arrived (Prepared or NeverReceived) of a prepared job; the service refuses the old disk from then on.
   */
  replaceDisk(jobId: string, index: number, disk: DiskReplacement): Promise<ImportJob>;
}
