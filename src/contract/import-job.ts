/**
 * The import-job contract of the service's HTTP API (docs/service.md, "Import jobs"), once: the shapes of
 * a job, its disks, its timeline and its adoption as the service answers them, and of a disk registration
 * and the shipping details as it takes them. The service's routes use these schemas as their request and
 * response schemas; its clients (diskprep and `ferry seed`, the datacenter's ingest, the CLI) validate the
 * answers they read with the same schemas (contract/answer.ts); the portal renders the derived types.
 * Every type here is derived from its schema.
 *
 * Answer schemas are plain objects: a field a newer service adds is dropped, not refused. Request schemas
 * are strict: a field the service does not know is refused.
 */
import { z } from 'zod';
import { ADOPTION_STATES, DISK_STATES, JOB_STATES } from './job-states.js';
import { isValidTrackingNumber } from './tracking-number.js';
import { Container, Count, RecordId, ResourceName, Sha256, Timestamp } from './wire.js';

/** How far the ingest of one disk is: bytes and files of its manifest done, and the files that failed. */
export const ImportDiskProgress = z.object({
  bytesDone: Count,
  filesDone: Count,
  /** Files of this disk whose last result is not Ok. */
  filesFailed: Count,
  startedAt: Timestamp,
  updatedAt: Timestamp,
});
export type ImportDiskProgress = z.infer<typeof ImportDiskProgress>;

/** A disk of a job: what diskprep registered, its state, and the ingest's progress. Never its key. */
export const ImportJobDisk = z.object({
  /** The disk's id, a UUID diskprep made and wrote on the disk's label. */
  id: RecordId,
  /** 0 … maxDisksPerJob-1; people see index + 1. */
  index: z.number().int().min(0),
  state: z.enum(DISK_STATES),
  /** Bytes diskprep wrote on the disk: encrypted files and manifest. */
  bytes: Count,
  files: Count,
  /** SHA-256 (hex) of the disk's manifest. */
  manifestSha256: Sha256,
  /** The datacenter's ingest of this disk; null until it starts. */
  progress: ImportDiskProgress.nullable(),
});
export type ImportJobDisk = z.infer<typeof ImportJobDisk>;

/** The copy of a job's imported objects into its vault, once the agent asked for it. */
export const ImportJobAdoption = z.object({
  state: z.enum(ADOPTION_STATES),
  /** Objects to copy, known once the service listed the import; null before. */
  objectsTotal: Count.nullable(),
  objectsDone: Count,
  bytesDone: Count,
  /** How many import keys the agent asked to leave out (index files it replaced). */
  excluded: Count,
  /** True when the objects were copied inside the back end, without streaming them through the service. */
  serverSideCopy: z.boolean(),
  startedAt: Timestamp,
  finishedAt: Timestamp.nullable(),
  /** Why the adoption failed (state Failed). */
  error: z.string().nullable(),
});
export type ImportJobAdoption = z.infer<typeof ImportJobAdoption>;

/** One entry of a job's timeline: what happened, when, by whom, and the job's state after it. */
export const ImportJobEvent = z.object({
  at: Timestamp,
  state: z.enum(JOB_STATES),
  /** `<role>:<token id>` of the caller, or `service:<task>` for the service's background work. */
  actor: z.string(),
  note: z.string().optional(),
});
export type ImportJobEvent = z.infer<typeof ImportJobEvent>;

/** An import job as the API answers it: with its disks (never their keys) and its whole timeline. */
export const ImportJob = z.object({
  id: RecordId,
  name: z.string(),
  tenantId: RecordId,
  vaultId: RecordId,
  storageAccountId: RecordId,
  container: z.string(),
  state: z.enum(JOB_STATES),
  createdAt: Timestamp,
  /** When diskprep reported every disk prepared; the tracking deadline runs from here. */
  preparedAt: Timestamp.nullable(),
  trackingDeadline: Timestamp.nullable(),
  carrier: z.string().nullable(),
  trackingNumber: z.string().nullable(),
  returnAddress: z.string().nullable(),
  /** When the job first went to `Shipping`. */
  shippedAt: Timestamp.nullable(),
  /** When the datacenter received the disks. */
  receivedAt: Timestamp.nullable(),
  /** Ordered by index. */
  disks: z.array(ImportJobDisk),
  /** Entries in the job's error log (`GET /v1/import-jobs/:jobId/errors`). */
  errorCount: Count,
  adoption: ImportJobAdoption.nullable(),
  /** Oldest first. */
  timeline: z.array(ImportJobEvent),
});
export type ImportJob = z.infer<typeof ImportJob>;

/**
 * The body of `POST /v1/vaults/:vaultId/import-jobs`: the job's name (unique in the tenant), the storage
 * account of the vault's tenant the disks are ingested into, by id or by name (agents cannot list
 * accounts), and the container in it (not one that holds a vault).
 */
export const ImportJobRequest = z
  .strictObject({ name: ResourceName, storageAccountId: RecordId.optional(), storageAccount: ResourceName.optional(), container: Container })
  .refine((b) => (b.storageAccountId === undefined) !== (b.storageAccount === undefined), 'give the storage account by id (storageAccountId) or by name (storageAccount), not both');
export type ImportJobRequest = z.infer<typeof ImportJobRequest>;

/** The answer of `POST /v1/vaults/:vaultId/import-jobs`: the new job and its job token, shown only here. */
export const CreatedImportJob = z.object({ job: ImportJob, jobToken: z.string().min(1) });
export type CreatedImportJob = z.infer<typeof CreatedImportJob>;

/** The answer of the job listings (`GET /v1/import-jobs`, `GET /v1/tenants/:tenantId/import-jobs`). */
export const ImportJobList = z.object({ jobs: z.array(ImportJob) });
export type ImportJobList = z.infer<typeof ImportJobList>;

/** The body of `POST /v1/import-jobs/:jobId/prepared`: how many disks diskprep prepared (indexes 0 … disks-1). */
export const PreparedReport = z.strictObject({ disks: z.number().int().min(1).max(1000) });
export type PreparedReport = z.infer<typeof PreparedReport>;

/** The answer of `POST /v1/import-jobs/:jobId/prepared`: the job and the address the disks go to. */
export const PreparedJob = z.object({ job: ImportJob, shippingAddress: z.string() });
export type PreparedJob = z.infer<typeof PreparedJob>;

/** The body of `PUT /v1/import-jobs/:jobId/disks/:index`: a disk as diskprep prepared it, with the key to escrow. */
export const DiskRegistration = z.strictObject({
  /** The disk id (a UUID made by diskprep, as in the label). */
  diskId: RecordId,
  /** Bytes diskprep wrote on the disk: encrypted files and manifest. */
  bytes: Count,
  files: Count,
  /** SHA-256 (hex) of the disk's FERRY-MANIFEST file. */
  manifestSha256: Sha256,
  /** The disk key, base64 of its 32 bytes: escrowed by the service. */
  diskKey: z
    .string()
    .regex(/^[A-Za-z0-9+/]{43}=$/, 'the disk key is the base64 of 32 bytes')
    .refine((key) => Buffer.from(key, 'base64').length === 32, 'the disk key is the base64 of 32 bytes'),
});
export type DiskRegistration = z.infer<typeof DiskRegistration>;

/** The body of `PUT /v1/import-jobs/:jobId/disks/:index/replacement`: a new disk in a lost one's place. */
export const DiskReplacement = DiskRegistration.extend({
  /** The id of the disk it replaces (registered at that index now). */
  replaces: RecordId,
});
export type DiskReplacement = z.infer<typeof DiskReplacement>;

/** One line of printable text (no control characters), trimmed; `what` names it in the message when it is empty. */
const Line = (max: number, what: string) =>
  z
    .string()
    .trim()
    .min(1, `enter ${what}`)
    .max(max)
    .regex(/^[^\p{Cc}]+$/u, 'no control characters');

/**
 * The shipping details: carrier, tracking number and return address, one carrier and one tracking number
 * for all of a job's disks. The body of `POST /v1/import-jobs/:jobId/shipping` and of the portal's form.
 */
export const JobShipping = z.strictObject({
  carrier: Line(64, 'the carrier'),
  trackingNumber: z
    .string()
    .trim()
    .min(1, 'enter the tracking number')
    .refine((value) => value === '' || isValidTrackingNumber(value), 'a tracking number is 1-64 ASCII letters, digits, spaces, "-" and "."'),
  returnAddress: z
    .string()
    .trim()
    .min(1, 'enter the return address')
    .max(1000)
    .regex(/^(?:[^\p{Cc}]|\n)+$/u, 'no control characters but line breaks'),
});
export type JobShipping = z.infer<typeof JobShipping>;
