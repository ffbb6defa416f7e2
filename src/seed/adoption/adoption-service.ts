import type { ImportJob } from '../../contract/import-job.js';
import type { ErrorLogEntry } from '../../contract/ingest.js';

/**
 * What adoption and cleanup need of the service (routes 7, 9 and 10 of the issue-6 contract, and the
 * job itself), as a small interface: the CLI implements it over HTTP with the agent token, tests with an
 * in-memory fake. Errors are the service's (a `UserError` with its code over HTTP: 404 unknown job, 409
 * wrong state).
 */
export interface AdoptionService {
  /** `GET /v1/import-jobs/:jobId`. */
  getJob(jobId: string): Promise<ImportJob>;
  /** `GET /v1/import-jobs/:jobId/errors`: the job's error log, oldest first. */
  listErrors(jobId: string): Promise<readonly ErrorLogEntry[]>;
  /**
   * `POST /v1/import-jobs/:jobId/adopt {exclude}`: asks the service to copy the import into the vault,
   * leaving out the `index/…` keys in `exclude`. Idempotent while Running with the same set and after Done.
   */
  requestAdoption(jobId: string, exclude: readonly string[]): Promise<ImportJob>;
  /** `POST /v1/import-jobs/:jobId/close`: removes the imported objects; the job becomes Closed (only from Adopted). */
  closeJob(jobId: string): Promise<ImportJob>;
}
