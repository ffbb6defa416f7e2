/**
 * What the datacenter's ingest needs of the service (the import-job routes of docs/service.md that the
 * operator token may call), as a small interface: the CLI implements it over HTTP, tests with the
 * in-process fake in testing/. Errors are the service's: a `FerryError` whose `code` is the service's
 * code (`ILLEGAL_TRANSITION`, `JOB_EXPIRED`, `DISK_ID_MISMATCH`, `MANIFEST_MISMATCH`, `NOT_FOUND`, …).
 */
import { FerryError } from '../core/errors.js';
import type { ImportJob, ImportJobError, IngestErrorCode } from '../seed/job-service.js';

/** The answer of the key route: the disk id the service holds for the index, and its key in base64. */
export interface DiskKeyRelease {
  readonly diskId: string;
  readonly diskKey: string;
}

/** A file of a disk the service already recorded as arrived intact. */
export interface DoneFile {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

/** The answer of the ingest route: the job, whether the disk (or job) is already final, and the files already done. */
export interface IngestStart {
  readonly job: ImportJob;
  readonly finished: boolean;
  readonly done: readonly DoneFile[];
}

/** `Ok`, or the error-log code of a file that did not arrive intact. */
export type FileResultCode = 'Ok' | IngestErrorCode;

/** One file's result; `sha256` is required for `Ok`, `message` says what went wrong otherwise. */
export interface FileResult {
  readonly path: string;
  readonly size: number;
  readonly sha256: string | null;
  readonly code: FileResultCode;
  readonly message: string | null;
}

/** How far a disk's ingest is, in plaintext bytes and files of its manifest (cumulative, resumed runs included). */
export interface IngestProgressReport {
  readonly bytesDone: number;
  readonly filesDone: number;
}

/** A problem that is not a file result: a refused disk, a manifest that fails, a file the manifest does not list. */
export interface IngestProblem {
  readonly diskIndex: number | null;
  readonly path: string | null;
  readonly code: IngestErrorCode;
  readonly message: string;
}

/** At most this many results go in one request (the service's limit). */
export const MAX_RESULTS_PER_BATCH = 1000;

/** The operator's import-job routes. */
export interface IngestService {
  /** `GET /v1/import-jobs/:jobId`. */
  getJob(jobId: string): Promise<ImportJob>;
  /** `POST …/receive`: Shipping → Received. */
  receive(jobId: string): Promise<ImportJob>;
  /** `GET …/disks/:index/key?diskId=`: releases the disk key (audited on the job's timeline). */
  releaseDiskKey(jobId: string, index: number, diskId: string): Promise<DiskKeyRelease>;
  /** `POST …/disks/:index/ingest`: the disk becomes Transferring (unless final); answers what is done. */
  startDisk(jobId: string, index: number, request: { readonly diskId: string; readonly manifestSha256: string }): Promise<IngestStart>;
  /** `POST …/disks/:index/results`: up to {@link MAX_RESULTS_PER_BATCH} results (upserted by path) and the progress. */
  postResults(jobId: string, index: number, results: readonly FileResult[], progress: IngestProgressReport): Promise<void>;
  /** `POST …/disks/:index/finish`: the disk's outcome is computed; answers the job. */
  finishDisk(jobId: string, index: number): Promise<ImportJob>;
  /** `POST …/errors`: logs a problem that is not a file result. */
  reportProblem(jobId: string, problem: IngestProblem): Promise<void>;
  /** `GET …/errors`: the job's error log, oldest first. */
  listErrors(jobId: string): Promise<ImportJobError[]>;
}

/** The service's code of an error answer (`FerryError.code`), or undefined for anything else. */
export function serviceCode(err: unknown): string | undefined {
  return err instanceof FerryError ? err.code : undefined;
}
