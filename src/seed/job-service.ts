/**
 * What diskprep needs of the service (the import-job routes of docs/service.md), as a small interface:
 * the CLI implements it over HTTP with the job token, tests with an in-process fake.
 */

export type ImportJobState =
  | 'Creating'
  | 'Shipping'
  | 'Received'
  | 'Transferring'
  | 'Completed'
  | 'CompletedWithErrors'
  | 'Adopted'
  | 'Closed'
  | 'Deleted'
  | 'Cancelled'
  | 'Failed';

export type ImportDiskState = 'Prepared' | 'Received' | 'NeverReceived' | 'Transferring' | 'Completed' | 'CompletedWithErrors' | 'Failed';

export interface ImportJobDisk {
  readonly id: string;
  readonly index: number;
  readonly state: ImportDiskState;
  readonly bytes: number;
  readonly files: number;
  readonly manifestSha256: string;
  /** The datacenter's ingest of this disk; null until it starts. */
  readonly progress: ImportDiskProgress | null;
}

/** How far the ingest of one disk is (bytes and files of the disk's manifest). */
export interface ImportDiskProgress {
  readonly bytesDone: number;
  readonly filesDone: number;
  readonly filesFailed: number;
  readonly startedAt: string;
  readonly updatedAt: string;
}

/** The copy of a job's imported objects into its vault, once the agent asked for it. */
export interface ImportJobAdoption {
  readonly state: 'Running' | 'Done' | 'Failed';
  /** Objects to copy, known once the service listed the import; null before. */
  readonly objectsTotal: number | null;
  readonly objectsDone: number;
  readonly bytesDone: number;
  /** Import keys the agent asked to leave out (index files it replaced). */
  readonly excluded: number;
  /** True when the objects were copied inside the back end, without streaming them through the service. */
  readonly serverSideCopy: boolean;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  /** Why the adoption failed (state Failed). */
  readonly error: string | null;
}

/** The codes of the job's error log (docs/service.md, "Ingest"). */
export type IngestErrorCode =
  | 'FileNotFound'
  | 'ChecksumMismatch'
  | 'DecryptFailed'
  | 'IOFailed'
  | 'UnexpectedFile'
  | 'PathRefused'
  | 'UploadFailed'
  | 'ManifestCorrupted'
  | 'DiskIdMismatch'
  | 'ForeignDisk'
  | 'UnknownDisk';

/** One entry of a job's error log: a file (path set) or a whole disk (path null) that did not arrive intact. */
export interface ImportJobError {
  readonly at: string;
  readonly diskIndex: number | null;
  readonly path: string | null;
  readonly code: IngestErrorCode;
  readonly message: string;
}

export interface ImportJobEvent {
  readonly at: string;
  readonly state: ImportJobState;
  readonly actor: string;
  readonly note?: string;
}

/** The service's Job JSON (the contract of issue 5). */
export interface ImportJob {
  readonly id: string;
  readonly name: string;
  readonly tenantId: string;
  readonly vaultId: string;
  readonly storageAccountId: string;
  readonly container: string;
  readonly state: ImportJobState;
  readonly createdAt: string;
  readonly preparedAt: string | null;
  readonly trackingDeadline: string | null;
  readonly carrier: string | null;
  readonly trackingNumber: string | null;
  readonly returnAddress: string | null;
  readonly shippedAt: string | null;
  readonly receivedAt: string | null;
  readonly disks: readonly ImportJobDisk[];
  /** Entries in the job's error log (`GET /v1/import-jobs/:jobId/errors`). */
  readonly errorCount: number;
  readonly adoption: ImportJobAdoption | null;
  readonly timeline: readonly ImportJobEvent[];
}

/** The body of `PUT /v1/import-jobs/:jobId/disks/:index`. */
export interface DiskRegistration {
  /** The disk id (a UUID made by diskprep, as in the label). */
  readonly diskId: string;
  /** Bytes diskprep wrote on the disk: encrypted files and manifest. */
  readonly bytes: number;
  readonly files: number;
  /** SHA-256 (hex) of the disk's FERRY-MANIFEST file. */
  readonly manifestSha256: string;
  /** The disk key, base64 of its 32 bytes: escrowed by the service. */
  readonly diskKey: string;
}

/** The body of `PUT /v1/import-jobs/:jobId/disks/:index/replacement`: a new disk in a lost one's place. */
export interface DiskReplacement extends DiskRegistration {
  /** The id of the disk it replaces (registered at that index now). */
  readonly replaces: string;
}

/** The answer of `POST /v1/import-jobs/:jobId/prepared`. */
export interface PreparedJob {
  readonly job: ImportJob;
  readonly shippingAddress: string;
}

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
