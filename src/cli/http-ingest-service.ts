import { ImportJob } from '../contract/import-job.js';
import {
  DiskKeyRelease,
  ErrorLog,
  IngestStart,
  MAX_REPORTED_MESSAGE,
  MAX_REPORTED_PATH,
  type DiskIngestRequest,
  type ErrorLogEntry,
  type FileResult,
  type IngestProblem,
  type IngestProgressReport,
} from '../contract/ingest.js';
import type { IngestService } from '../datacenter/ingest-service.js';
import type { ServiceClient } from './service-client.js';

/**
 * The operator's import-job routes (docs/service.md, "Import jobs"; the issue-6 contract) for `ferry
 * datacenter`, with the operator token as the client's bearer token. Every answer is read through the
 * contract's schema (src/contract/ingest.ts): one of another shape is an `UnexpectedAnswerError`. Errors are the client's: a
 * `ServiceRequestError` whose `code` is the service's (ILLEGAL_TRANSITION, DISK_ID_MISMATCH, …).
 */
export class HttpIngestService implements IngestService {
  constructor(private readonly client: ServiceClient) {}

  getJob(jobId: string): Promise<ImportJob> {
    return this.client.requestChecked(ImportJob, 'GET', jobPath(jobId));
  }

  receive(jobId: string): Promise<ImportJob> {
    return this.client.requestChecked(ImportJob, 'POST', `${jobPath(jobId)}/receive`, {});
  }

  releaseDiskKey(jobId: string, index: number, diskId: string): Promise<DiskKeyRelease> {
    return this.client.requestChecked(DiskKeyRelease, 'GET', `${diskPath(jobId, index)}/key?diskId=${encodeURIComponent(diskId)}`);
  }

  startDisk(jobId: string, index: number, request: DiskIngestRequest): Promise<IngestStart> {
    return this.client.requestChecked(IngestStart, 'POST', `${diskPath(jobId, index)}/ingest`, { diskId: request.diskId, manifestSha256: request.manifestSha256 });
  }

  async postResults(jobId: string, index: number, results: readonly FileResult[], progress: IngestProgressReport): Promise<void> {
    const sent = results.map((r) => ({ ...r, path: printable(r.path, MAX_REPORTED_PATH), message: r.message === null ? null : printable(r.message, MAX_REPORTED_MESSAGE) }));
    await this.client.request('POST', `${diskPath(jobId, index)}/results`, { results: sent, progress });
  }

  finishDisk(jobId: string, index: number): Promise<ImportJob> {
    return this.client.requestChecked(ImportJob, 'POST', `${diskPath(jobId, index)}/finish`, {});
  }

  async reportProblem(jobId: string, problem: IngestProblem): Promise<void> {
    const sent = { ...problem, path: problem.path === null ? null : printable(problem.path, MAX_REPORTED_PATH), message: printable(problem.message, MAX_REPORTED_MESSAGE) };
    await this.client.request('POST', `${jobPath(jobId)}/errors`, sent);
  }

  async listErrors(jobId: string): Promise<ErrorLogEntry[]> {
    return (await this.client.requestChecked(ErrorLog, 'GET', `${jobPath(jobId)}/errors`)).errors;
  }
}

const jobPath = (jobId: string): string => `/v1/import-jobs/${encodeURIComponent(jobId)}`;
const diskPath = (jobId: string, index: number): string => `${jobPath(jobId)}/disks/${index}`;

/**
 * Text as the error log takes it: control characters (which a folder name given on the command line
 * may hold) shown as `?`, and at most `max` characters.
 */
function printable(text: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length <= max ? clean : `${clean.slice(0, max - 1)}…`;
}
