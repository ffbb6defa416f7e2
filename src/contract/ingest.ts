/**
 * The ingest part of the import-job contract (docs/service.md, "Ingest"), once: what the datacenter
 * reports about each disk (per-file results, progress, problems), what the service answers it (disk keys,
 * the files already done), and the job's error log. Used as the service's route schemas and by the
 * clients to validate the answers (see import-job.ts); every type here is derived from its schema.
 */
import { z } from 'zod';
import { ImportJob } from './import-job.js';
import { DISK_STATES } from './job-states.js';
import { Count, RecordId, Sha256, Timestamp } from './wire.js';

/** The codes of a job's error log: what went wrong with a file or a whole disk. */
export const INGEST_ERROR_CODES = [
  'FileNotFound',
  'ChecksumMismatch',
  'DecryptFailed',
  'IOFailed',
  'UnexpectedFile',
  'PathRefused',
  'UploadFailed',
  'ManifestCorrupted',
  'DiskIdMismatch',
  'ForeignDisk',
  'UnknownDisk',
] as const;
export const IngestErrorCode = z.enum(INGEST_ERROR_CODES);
export type IngestErrorCode = z.infer<typeof IngestErrorCode>;

/** A file's ingest result code: `Ok`, or the error-log code of a file that did not arrive intact. */
export const FileResultCode = z.enum(['Ok', ...INGEST_ERROR_CODES]);
export type FileResultCode = z.infer<typeof FileResultCode>;

/** At most this many results go in one request. */
export const MAX_RESULTS_PER_BATCH = 1000;
/** The longest path the error log takes. */
export const MAX_REPORTED_PATH = 1024;
/** The longest message the error log takes. */
export const MAX_REPORTED_MESSAGE = 2000;

/** A path as the datacenter reports it: a staging path (object key), or what an unexpected file is called on the disk. */
const ReportedPath = z
  .string()
  .min(1)
  .max(MAX_REPORTED_PATH)
  .regex(/^[^\p{Cc}]+$/u, 'no control characters');
const Message = z
  .string()
  .min(1)
  .max(MAX_REPORTED_MESSAGE)
  .regex(/^(?:[^\p{Cc}]|\n)+$/u, 'no control characters but line breaks');

/** One file's result; `sha256` (of the plaintext) is required for `Ok`, `message` says what went wrong otherwise. */
export const FileResult = z
  .strictObject({ path: ReportedPath, size: Count, sha256: Sha256.nullable(), code: FileResultCode, message: Message.nullable() })
  .refine((r) => r.code !== 'Ok' || r.sha256 !== null, 'an Ok result needs the sha256 of the file');
export type FileResult = z.infer<typeof FileResult>;

/** How far a disk's ingest is, in plaintext bytes and files of its manifest (cumulative, resumed runs included). */
export const IngestProgressReport = z.strictObject({ bytesDone: Count, filesDone: Count });
export type IngestProgressReport = z.infer<typeof IngestProgressReport>;

/** The body of `POST …/disks/:index/results`: up to {@link MAX_RESULTS_PER_BATCH} results (upserted by path) and the progress. */
export const FileResultsReport = z.strictObject({ results: z.array(FileResult).max(MAX_RESULTS_PER_BATCH), progress: IngestProgressReport });
export type FileResultsReport = z.infer<typeof FileResultsReport>;

/** A problem that is not a file result: a refused disk, a manifest that fails, a file the manifest does not list. The body of `POST …/errors`. */
export const IngestProblem = z.strictObject({ diskIndex: z.number().int().min(0).max(999).nullable(), path: ReportedPath.nullable(), code: IngestErrorCode, message: Message });
export type IngestProblem = z.infer<typeof IngestProblem>;

/** One entry of a job's error log: a file (path set) or a whole disk (path null) that did not arrive intact. */
export const ErrorLogEntry = z.object({ at: Timestamp, diskIndex: z.number().int().nullable(), path: z.string().nullable(), code: IngestErrorCode, message: z.string() });
export type ErrorLogEntry = z.infer<typeof ErrorLogEntry>;

/** The answer of `GET /v1/import-jobs/:jobId/errors`: the job's error log, oldest first. */
export const ErrorLog = z.object({ errors: z.array(ErrorLogEntry) });
export type ErrorLog = z.infer<typeof ErrorLog>;

/** The answer of the key route: the disk id the service holds for the index, and its key in base64. */
export const DiskKeyRelease = z.object({ diskId: RecordId, diskKey: z.string() });
export type DiskKeyRelease = z.infer<typeof DiskKeyRelease>;

/** The body of `POST …/disks/:index/ingest`: the disk presented, as its label and manifest say. */
export const DiskIngestRequest = z.strictObject({ diskId: RecordId, manifestSha256: Sha256 });
export type DiskIngestRequest = z.infer<typeof DiskIngestRequest>;

/** A file of a disk the service already recorded as arrived intact: a resumed ingest skips it. */
export const DoneFile = z.object({ path: z.string(), size: Count, sha256: z.string() });
export type DoneFile = z.infer<typeof DoneFile>;

/** The answer of `POST …/disks/:index/ingest`: the job, whether the disk (or job) is already final, and the files already done. */
export const IngestStart = z.object({ job: ImportJob, finished: z.boolean(), done: z.array(DoneFile) });
export type IngestStart = z.infer<typeof IngestStart>;

/**
 * Ingest on the service's host (docs/datacenter.md, "Ingest on the service's host"): the disks' paths as
 * the service sees them, each under its `--ingest-root`.
 */
export const ServiceIngestRequest = z.strictObject({
  disks: z
    .array(z.string().min(1).max(4096).regex(/^\/[^\p{Cc}]*$/u, 'an absolute path without control characters'))
    .min(1)
    .max(64),
});
export type ServiceIngestRequest = z.infer<typeof ServiceIngestRequest>;

/** Live counters of one disk's ingest (a progress display samples them). */
export const DiskProgress = z.object({
  /** The path the disk was given at. */
  given: z.string(),
  /** The disk's number as people see it (index + 1); 0 until the label is read. */
  number: Count,
  phase: z.enum(['identifying', 'ingesting', 'finishing', 'done']),
  /** Files and plaintext bytes of the manifest (0 until it is opened). */
  totalFiles: Count,
  totalBytes: Count,
  /** Files with a result, and their bytes, this run and earlier runs together. */
  filesDone: Count,
  bytesDone: Count,
  /** Files done in earlier runs (skipped now). */
  filesBefore: Count,
  bytesBefore: Count,
  filesFailed: Count,
  /** Plaintext bytes this run uploaded. */
  bytesUploaded: Count,
  /** When this run started the disk's files (ms since the epoch), for the rate. */
  startedAt: z.number(),
});
export type DiskProgress = z.infer<typeof DiskProgress>;

/** How one disk ended in a run. `Refused`: not ingested; `Stopped`: interrupted, a rerun resumes. */
export const DiskOutcome = z.object({
  given: z.string(),
  index: z.number().int().min(0).nullable(),
  diskId: z.string().nullable(),
  state: z.enum([...DISK_STATES, 'Refused', 'Stopped']),
  /** One line: why refused or stopped, or a summary. */
  message: z.string(),
  filesOk: Count,
  filesFailed: Count,
  /** Files an earlier run had already done. */
  filesBefore: Count,
  bytesUploaded: Count,
  /** True when the disk (or the job) was already final before this run: nothing was done. */
  alreadyFinal: z.boolean(),
});
export type DiskOutcome = z.infer<typeof DiskOutcome>;

/**
 * One line of the answer to an ingest on the service's host (NDJSON): the disks' counters when identified,
 * after each file stored and twice a second (`startedAt` on the service's clock), the notes for the operator, and last either the outcome (`done`, with the
 * contract's exit code: 0 every disk Completed, 3 some CompletedWithErrors, 1 otherwise) or why the run
 * failed as a whole (`failed`, with the service's error code).
 */
export const ServiceIngestEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('started'), disks: z.array(DiskProgress) }),
  z.object({ type: z.literal('progress'), disks: z.array(DiskProgress) }),
  z.object({ type: z.literal('note'), message: z.string() }),
  z.object({ type: z.literal('done'), job: ImportJob, disks: z.array(DiskOutcome), exitCode: z.union([z.literal(0), z.literal(1), z.literal(3)]) }),
  z.object({ type: z.literal('failed'), code: z.string(), message: z.string() }),
]);
export type ServiceIngestEvent = z.infer<typeof ServiceIngestEvent>;
