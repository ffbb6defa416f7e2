import type { DiskKeyRelease, FileResult, IngestProblem, IngestProgressReport, IngestService, IngestStart } from '../datacenter/ingest-service.js';
import type { ImportJob, ImportJobError } from '../seed/job-service.js';
import type { ServiceClient } from './service-client.js';

/**
 * The operator's import-job routes (docs/service.md, "Import jobs"; the issue-6 contract) for `ferry
 * datacenter`, with the operator token as the client's bearer token. Errors are the client's: a
 * `ServiceRequestError` whose `code` is the service's (ILLEGAL_TRANSITION, DISK_ID_MISMATCH, …).
 */
export class HttpIngestService implements IngestService {
  constructor(private readonly client: ServiceClient) {}

  getJob(jobId: string): Promise<ImportJob> {
    return this.client.request('GET', jobPath(jobId));
  }

  receive(jobId: string): Promise<ImportJob> {
    return this.client.request('POST', `${jobPath(jobId)}/receive`, {});
  }

  releaseDiskKey(jobId: string, index: number, diskId: string): Promise<DiskKeyRelease> {
    return this.client.request('GET', `${diskPath(jobId, index)}/key?diskId=${encodeURIComponent(diskId)}`);
  }

  startDisk(jobId: string, index: number, request: { readonly diskId: string; readonly manifestSha256: string }): Promise<IngestStart> {
    return this.client.request('POST', `${diskPath(jobId, index)}/ingest`, { diskId: request.diskId, manifestSha256: request.manifestSha256 });
  }

  async postResults(jobId: string, index: number, results: readonly FileResult[], progress: IngestProgressReport): Promise<void> {
    const sent = results.map((r) => ({ ...r, path: printable(r.path, 1024), message: r.message === null ? null : printable(r.message, MAX_MESSAGE) }));
    await this.client.request('POST', `${diskPath(jobId, index)}/results`, { results: sent, progress });
  }

  finishDisk(jobId: string, index: number): Promise<ImportJob> {
    return this.client.request('POST', `${diskPath(jobId, index)}/finish`, {});
  }

  async reportProblem(jobId: string, problem: IngestProblem): Promise<void> {
    const sent = { ...problem, path: problem.path === null ? null : printable(problem.path, 1024), message: printable(problem.message, MAX_MESSAGE) };
    await this.client.request('POST', `${jobPath(jobId)}/errors`, sent);
  }

  async listErrors(jobId: string): Promise<ImportJobError[]> {
    return (await this.client.request<{ errors: ImportJobError[] }>('GET', `${jobPath(jobId)}/errors`)).errors;
  }
}

const jobPath = (jobId: string): string => `/v1/import-jobs/${encodeURIComponent(jobId)}`;
const diskPath = (jobId: string, index: number): string => `${jobPath(jobId)}/disks/${index}`;

/** The longest message the error log takes. */
const MAX_MESSAGE = 2000;

/**
 * Text as the error log takes it: control characters (which a folder name given on the command line
 * may hold) shown as `?`, and at most `max` characters.
 */
function printable(text: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length <= max ? clean : `${clean.slice(0, max - 1)}…`;
}
