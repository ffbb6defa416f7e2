import { z } from 'zod';
import type { ServiceContext } from '../context.js';
import { DISK_STATES, JOB_STATES } from '../jobs/job-states.js';
import { isValidTrackingNumber } from '../jobs/tracking-number.js';
import {
  cancelImportJob,
  createImportJob,
  findImportJobs,
  getImportJob,
  listTenantImportJobs,
  markJobPrepared,
  registerJobDisk,
  replaceJobDisk,
  shipImportJob,
} from '../resources/import-jobs.js';
import type { ApiApp } from './api-app.js';
import { principalOf } from './route-access.js';
import { Container, RecordId, ResourceName, TenantParams, Timestamp, VaultParams } from './schemas.js';

const Count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** One line of printable text (no control characters), trimmed; `what` names it in the message when it is empty. */
const Line = (max: number, what: string) =>
  z
    .string()
    .trim()
    .min(1, `enter ${what}`)
    .max(max)
    .regex(/^[^\p{Cc}]+$/u, 'no control characters');

const DiskProgress = z.object({ bytesDone: z.number(), filesDone: z.number(), filesFailed: z.number(), startedAt: Timestamp, updatedAt: Timestamp });

const JobDisk = z.object({
  id: RecordId,
  index: z.number().int(),
  state: z.enum(DISK_STATES),
  bytes: z.number(),
  files: z.number(),
  manifestSha256: z.string(),
  /** The ingest's progress; null until it starts. */
  progress: DiskProgress.nullable(),
});

const Adoption = z.object({
  state: z.enum(['Running', 'Done', 'Failed']),
  objectsTotal: z.number().nullable(),
  objectsDone: z.number(),
  bytesDone: z.number(),
  excluded: z.number(),
  serverSideCopy: z.boolean(),
  startedAt: Timestamp,
  finishedAt: Timestamp.nullable(),
  error: z.string().nullable(),
});

const JobEvent = z.object({ at: Timestamp, state: z.enum(JOB_STATES), actor: z.string(), note: z.string().optional() });

/** An import job with its disks (never their keys) and its timeline: ImportJob of src/seed/job-service.ts. */
export const ImportJob = z.object({
  id: RecordId,
  name: z.string(),
  tenantId: RecordId,
  vaultId: RecordId,
  storageAccountId: RecordId,
  container: z.string(),
  state: z.enum(JOB_STATES),
  createdAt: Timestamp,
  preparedAt: Timestamp.nullable(),
  trackingDeadline: Timestamp.nullable(),
  carrier: z.string().nullable(),
  trackingNumber: z.string().nullable(),
  returnAddress: z.string().nullable(),
  shippedAt: Timestamp.nullable(),
  receivedAt: Timestamp.nullable(),
  disks: z.array(JobDisk),
  errorCount: z.number(),
  adoption: Adoption.nullable(),
  timeline: z.array(JobEvent),
});

export const JobParams = z.object({ jobId: RecordId });
export const DiskParams = z.object({ jobId: RecordId, index: z.coerce.number().int().min(0).max(999) });

const DiskRegistration = z.strictObject({
  diskId: RecordId,
  bytes: Count,
  files: Count,
  manifestSha256: z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 is 64 lowercase hex digits'),
  diskKey: z
    .string()
    .regex(/^[A-Za-z0-9+/]{43}=$/, 'the disk key is the base64 of 32 bytes')
    .refine((key) => Buffer.from(key, 'base64').length === 32, 'the disk key is the base64 of 32 bytes'),
});

/** Carrier, tracking number and return address, as the API and the portal's shipping form take them. */
export const Shipping = z.strictObject({
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

/** Import jobs (docs/service.md, "Import jobs"): thin routes over resources/import-jobs.ts. */
export function registerImportJobRoutes(app: ApiApp, ctx: ServiceContext): void {
  app.route({
    method: 'POST',
    url: '/v1/vaults/:vaultId/import-jobs',
    config: { access: ['admin', 'tenant-admin', 'agent'], summary: "Create an import job (an offline seed) for the vault, with its job token (shown once)" },
    schema: {
      params: VaultParams,
      body: z
        .strictObject({ name: ResourceName, storageAccountId: RecordId.optional(), storageAccount: ResourceName.optional(), container: Container })
        .refine((b) => (b.storageAccountId === undefined) !== (b.storageAccount === undefined), 'give the storage account by id (storageAccountId) or by name (storageAccount), not both'),
      response: { 201: z.object({ job: ImportJob, jobToken: z.string() }) },
    },
    handler: async (request, reply) => reply.status(201).send(await createImportJob(ctx, principalOf(request), request.params.vaultId, request.body)),
  });
  app.route({
    method: 'GET',
    url: '/v1/import-jobs',
    config: { access: ['admin', 'tenant-admin', 'operator'], summary: 'Find import jobs by name (and tenant) among those the token may see' },
    schema: {
      querystring: z.strictObject({ name: ResourceName.optional(), tenantId: RecordId.optional() }),
      response: { 200: z.object({ jobs: z.array(ImportJob) }) },
    },
    handler: async (request) => ({ jobs: await findImportJobs(ctx, principalOf(request), request.query) }),
  });
  app.route({
    method: 'GET',
    url: '/v1/tenants/:tenantId/import-jobs',
    config: { access: ['admin', 'tenant-admin'], summary: "List a tenant's import jobs, oldest first" },
    schema: { params: TenantParams, response: { 200: z.object({ jobs: z.array(ImportJob) }) } },
    handler: async (request) => ({ jobs: await listTenantImportJobs(ctx, principalOf(request), request.params.tenantId) }),
  });
  app.route({
    method: 'GET',
    url: '/v1/import-jobs/:jobId',
    config: { access: ['admin', 'tenant-admin', 'agent', 'job', 'operator'], summary: 'Show an import job with its disks and full timeline' },
    schema: { params: JobParams, response: { 200: ImportJob } },
    handler: async (request) => getImportJob(ctx, principalOf(request), request.params.jobId),
  });
  app.route({
    method: 'PUT',
    url: '/v1/import-jobs/:jobId/disks/:index',
    config: { access: ['job'], summary: 'Register (or replace) a prepared disk of the job and escrow its key; only before the disks are reported complete' },
    schema: { params: DiskParams, body: DiskRegistration, response: { 200: ImportJob } },
    handler: async (request) => registerJobDisk(ctx, principalOf(request), request.params.jobId, request.params.index, request.body),
  });
  app.route({
    method: 'PUT',
    url: '/v1/import-jobs/:jobId/disks/:index/replacement',
    config: { access: ['job'], summary: 'Register a new disk in place of one that has not arrived (lost or damaged on the way) and escrow its key; the old disk is refused from then on' },
    schema: { params: DiskParams, body: DiskRegistration.extend({ replaces: RecordId }), response: { 200: ImportJob } },
    handler: async (request) => replaceJobDisk(ctx, principalOf(request), request.params.jobId, request.params.index, request.body),
  });
  app.route({
    method: 'POST',
    url: '/v1/import-jobs/:jobId/prepared',
    config: { access: ['job'], summary: 'Report every disk prepared: starts the tracking deadline; answers the shipping address' },
    schema: {
      params: JobParams,
      body: z.strictObject({ disks: z.number().int().min(1).max(1000) }),
      response: { 200: z.object({ job: ImportJob, shippingAddress: z.string() }) },
    },
    handler: async (request) => markJobPrepared(ctx, principalOf(request), request.params.jobId, request.body.disks),
  });
  app.route({
    method: 'POST',
    url: '/v1/import-jobs/:jobId/shipping',
    config: { access: ['admin', 'tenant-admin', 'agent'], summary: 'Enter carrier, tracking number and return address (changeable until the job is received)' },
    schema: { params: JobParams, body: Shipping, response: { 200: ImportJob } },
    handler: async (request) => shipImportJob(ctx, principalOf(request), request.params.jobId, request.body),
  });
  app.route({
    method: 'POST',
    url: '/v1/import-jobs/:jobId/cancel',
    config: { access: ['admin', 'tenant-admin', 'agent'], summary: 'Cancel the import job (only before it is received)' },
    schema: { params: JobParams, response: { 200: ImportJob } },
    handler: async (request) => cancelImportJob(ctx, principalOf(request), request.params.jobId),
  });
}
