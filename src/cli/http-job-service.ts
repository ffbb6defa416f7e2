import { ImportJob, PreparedJob, type DiskRegistration, type DiskReplacement } from '../contract/import-job.js';
import type { JobService } from '../seed/job-service.js';
import type { ServiceClient } from './service-client.js';

/**
 * The import-job routes of the service (docs/service.md) for `ferry diskprep`, with the job token from
 * FERRY-SEED.json as the client's bearer token. Every answer is read through the contract's schema
 * (src/contract/import-job.ts). Errors are the client's: one clear `UserError` line
 * (`UnexpectedAnswerError` for an answer of another shape).
 */
export class HttpJobService implements JobService {
  constructor(private readonly client: ServiceClient) {}

  getJob(jobId: string): Promise<ImportJob> {
    return this.client.requestChecked(ImportJob, 'GET', `/v1/import-jobs/${encodeURIComponent(jobId)}`);
  }

  putDisk(jobId: string, index: number, disk: DiskRegistration): Promise<ImportJob> {
    return this.client.requestChecked(ImportJob, 'PUT', `/v1/import-jobs/${encodeURIComponent(jobId)}/disks/${index}`, disk);
  }

  markPrepared(jobId: string, disks: number): Promise<PreparedJob> {
    return this.client.requestChecked(PreparedJob, 'POST', `/v1/import-jobs/${encodeURIComponent(jobId)}/prepared`, { disks });
  }

  replaceDisk(jobId: string, index: number, disk: DiskReplacement): Promise<ImportJob> {
    return this.client.requestChecked(ImportJob, 'PUT', `/v1/import-jobs/${encodeURIComponent(jobId)}/disks/${index}/replacement`, disk);
  }
}
