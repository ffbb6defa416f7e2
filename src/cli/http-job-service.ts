import type { DiskRegistration, DiskReplacement, ImportJob, JobService, PreparedJob } from '../seed/job-service.js';
import type { ServiceClient } from './service-client.js';

/**
 * The import-job routes of the service (docs/service.md) for `ferry diskprep`, with the job token from
 * FERRY-SEED.json as the client's bearer token. Errors are the client's: one clear `UserError` line.
 */
export class HttpJobService implements JobService {
  constructor(private readonly client: ServiceClient) {}

  getJob(jobId: string): Promise<ImportJob> {
    return this.client.request('GET', `/v1/import-jobs/${encodeURIComponent(jobId)}`);
  }

  putDisk(jobId: string, index: number, disk: DiskRegistration): Promise<ImportJob> {
    return this.client.request('PUT', `/v1/import-jobs/${encodeURIComponent(jobId)}/disks/${index}`, disk);
  }

  markPrepared(jobId: string, disks: number): Promise<PreparedJob> {
    return this.client.request('POST', `/v1/import-jobs/${encodeURIComponent(jobId)}/prepared`, { disks });
  }

  replaceDisk(jobId: string, index: number, disk: DiskReplacement): Promise<ImportJob> {
    return this.client.request('PUT', `/v1/import-jobs/${encodeURIComponent(jobId)}/disks/${index}/replacement`, disk);
  }
}
