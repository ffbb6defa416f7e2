import { z } from 'zod';
import { CreatedImportJob, DiskRegistration, DiskReplacement, ImportJob, ImportJobList, ImportJobRequest, JobShipping, PreparedJob, PreparedReport } from '../../contract/import-job.js';
import type { ServiceContext } from '../context.js';
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
import { RecordId, ResourceName, TenantParams, VaultParams } from './schemas.js';

/** The request and answer shapes are the import-job contract's (src/contract/import-job.ts); only the paths' parameters are here. */
export const JobParams = z.object({ jobId: RecordId });
export const DiskParams = z.object({ jobId: RecordId, index: z.coerce.number().int().min(0).max(999) });

/** Import jobs (docs/service.md, "Import jobs"): thin routes over resources/import-jobs.ts. */
export function registerImportJobRoutes(app: ApiApp, ctx: ServiceContext): void {
  app.route({
    method: 'POST',
    url: '/v1/vaults/:vaultId/import-jobs',
    config: { access: ['admin', 'tenant-admin', 'agent'], summary: "Create an import job (an offline seed) for the vault, with its job token (shown once)" },
    schema: {
      params: VaultParams,
      body: ImportJobRequest,
      response: { 201: CreatedImportJob },
    },
    handler: async (request, reply) => reply.status(201).send(await createImportJob(ctx, principalOf(request), request.params.vaultId, request.body)),
  });
  app.route({
    method: 'GET',
    url: '/v1/import-jobs',
    config: { access: ['admin', 'tenant-admin', 'operator'], summary: 'Find import jobs by name (and tenant) among those the token may see' },
    schema: {
      querystring: z.strictObject({ name: ResourceName.optional(), tenantId: RecordId.optional() }),
      response: { 200: ImportJobList },
    },
    handler: async (request) => ({ jobs: await findImportJobs(ctx, principalOf(request), request.query) }),
  });
  app.route({
    method: 'GET',
    url: '/v1/tenants/:tenantId/import-jobs',
    config: { access: ['admin', 'tenant-admin'], summary: "List a tenant's import jobs, oldest first" },
    schema: { params: TenantParams, response: { 200: ImportJobList } },
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
    schema: { params: DiskParams, body: DiskReplacement, response: { 200: ImportJob } },
    handler: async (request) => replaceJobDisk(ctx, principalOf(request), request.params.jobId, request.params.index, request.body),
  });
  app.route({
    method: 'POST',
    url: '/v1/import-jobs/:jobId/prepared',
    config: { access: ['job'], summary: 'Report every disk prepared: starts the tracking deadline; answers the shipping address' },
    schema: {
      params: JobParams,
      body: PreparedReport,
      response: { 200: PreparedJob },
    },
    handler: async (request) => markJobPrepared(ctx, principalOf(request), request.params.jobId, request.body.disks),
  });
  app.route({
    method: 'POST',
    url: '/v1/import-jobs/:jobId/shipping',
    config: { access: ['admin', 'tenant-admin', 'agent'], summary: 'Enter carrier, tracking number and return address (changeable until the job is received)' },
    schema: { params: JobParams, body: JobShipping, response: { 200: ImportJob } },
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
