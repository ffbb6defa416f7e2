/**
 * The datacenter's and the adoption's import job routes (docs/service.md, "Ingest" and "Adoption"): thin
 * routes over resources/import-ingest.ts, resources/service-ingest.ts and resources/import-adoption.ts, and
 * the import object routes
 * (the vault object wire protocol under /v1/import-jobs/:jobId).
 */
import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ImportJob } from '../../contract/import-job.js';
import { DiskIngestRequest, DiskKeyRelease, ErrorLog, FileResultsReport, IngestProblem, IngestStart, ServiceIngestRequest, type ServiceIngestEvent } from '../../contract/ingest.js';
import { idOfKey } from '../../storage/layout.js';
import type { ServiceContext } from '../context.js';
import { checkImportKey, resolveImportForObjects } from '../import-access.js';
import { dbLockOwnership } from '../resources/db-lock-ownership.js';
import { closeImportJob, requestAdoption } from '../resources/import-adoption.js';
import { finishDiskIngest, listJobErrors, receiveImportJob, recordDiskResults, releaseDiskKey, reportJobProblem, startDiskIngest } from '../resources/import-ingest.js';
import { prepareServiceIngest } from '../resources/service-ingest.js';
import { VaultObjects } from '../vault-objects/vault-objects.js';
import type { ApiApp } from './api-app.js';
import { toApiError } from './error-handler.js';
import { DiskParams, JobParams } from './import-jobs.js';
import { principalOf } from './route-access.js';
import { RecordId } from './schemas.js';
import { registerObjectRoutes, type ObjectRouteDeps } from './vault-objects.js';

/** Index keys the agent may leave out of an adoption: `index/<64 hex>`. */
const IndexKey = z.string().refine((key) => idOfKey('index', key) !== undefined, 'only index files (index/<64 hex digits>) may be excluded from an adoption');

/** Routes 1–7 and 9–10 of the issue 6 contract; see registerImportObjectRoutes for 8. */
export function registerImportIngestRoutes(app: ApiApp, ctx: ServiceContext): void {
  app.route({
    method: 'POST',
    url: '/v1/import-jobs/:jobId/receive',
    config: { access: ['operator', 'admin'], summary: 'The disks arrived at the datacenter: Shipping → Received (refused for deleted, cancelled and unshipped jobs)' },
    schema: { params: JobParams, body: z.strictObject({}).nullish(), response: { 200: ImportJob } },
    handler: async (request) => receiveImportJob(ctx, principalOf(request), request.params.jobId),
  });
  app.route({
    method: 'GET',
    url: '/v1/import-jobs/:jobId/disks/:index/key',
    config: { access: ['operator'], summary: "Release a disk's key to the operator ingesting it (on the job's timeline); diskId must be the registered one" },
    schema: { params: DiskParams, querystring: z.strictObject({ diskId: RecordId }), response: { 200: DiskKeyRelease } },
    handler: async (request, reply) => {
      const key = await releaseDiskKey(ctx, principalOf(request), request.params.jobId, request.params.index, request.query.diskId);
      return reply.header('cache-control', 'no-store').send(key);
    },
  });
  app.route({
    method: 'POST',
    url: '/v1/import-jobs/:jobId/disks/:index/ingest',
    config: { access: ['operator'], summary: "Start or resume a disk's ingest: checks disk id and manifest; answers the files already done" },
    schema: {
      params: DiskParams,
      body: DiskIngestRequest,
      response: { 200: IngestStart },
    },
    handler: async (request) => startDiskIngest(ctx, principalOf(request), request.params.jobId, request.params.index, request.body),
  });
  app.route({
    method: 'POST',
    url: '/v1/import-jobs/:jobId/disks/:index/results',
    config: { access: ['operator'], summary: "Record per-file results (a later result for a path replaces the earlier) and the disk's progress" },
    bodyLimit: 1024 * 1024,
    schema: {
      params: DiskParams,
      body: FileResultsReport,
      response: { 204: z.null() },
    },
    handler: async (request, reply) => {
      await recordDiskResults(ctx, principalOf(request), request.params.jobId, request.params.index, request.body);
      return reply.status(204).send(null);
    },
  });
  app.route({
    method: 'POST',
    url: '/v1/import-jobs/:jobId/disks/:index/finish',
    config: { access: ['operator'], summary: "Finish a disk's ingest: its outcome from the recorded results; the job's when every disk is final" },
    schema: { params: DiskParams, body: z.strictObject({}).nullish(), response: { 200: ImportJob } },
    handler: async (request) => finishDiskIngest(ctx, principalOf(request), request.params.jobId, request.params.index),
  });
  const objects = new VaultObjects({ lockOwnership: dbLockOwnership(ctx), onBytesStored: (bytes) => ctx.metrics.addStoredBytes(bytes) });
  app.route({
    method: 'POST',
    url: '/v1/import-jobs/:jobId/service-ingest',
    config: { access: ['operator'], summary: "Ingest disks mounted on the service's host under its --ingest-root: answers the disks' progress and the outcome as NDJSON lines" },
    schema: { params: JobParams, body: ServiceIngestRequest },
    handler: async (request, reply) => {
      const run = await prepareServiceIngest(ctx, objects, principalOf(request), request.params.jobId, request.body.disks);
      const lines = new PassThrough();
      const stop = new AbortController();
      let ended = false;
      // A caller that goes away (Ctrl-C) interrupts the ingest: what finished is recorded, a rerun resumes.
      reply.raw.once('close', () => {
        if (!ended) stop.abort();
      });
      const emit = (event: ServiceIngestEvent): void => void lines.write(`${JSON.stringify(event)}\n`);
      void run(emit, stop.signal)
        .catch((err: unknown) => {
          if (stop.signal.aborted) return void request.log.info('an ingest on the service was interrupted: its caller went away');
          const { status, body } = toApiError(err);
          if (status >= 500) request.log.error({ err }, 'an ingest on the service failed');
          emit({ type: 'failed', code: body.code, message: body.message });
        })
        .finally(() => {
          ended = true;
          lines.end();
        });
      return reply.header('cache-control', 'no-store').type('application/x-ndjson').send(lines);
    },
  });
  app.route({
    method: 'POST',
    url: '/v1/import-jobs/:jobId/errors',
    config: { access: ['operator'], summary: "Add a disk-level problem to the job's error log (foreign or unknown disk, corrupted manifest)" },
    schema: {
      params: JobParams,
      body: IngestProblem,
      response: { 204: z.null() },
    },
    handler: async (request, reply) => {
      await reportJobProblem(ctx, principalOf(request), request.params.jobId, request.body);
      return reply.status(204).send(null);
    },
  });
  app.route({
    method: 'GET',
    url: '/v1/import-jobs/:jobId/errors',
    config: { access: ['admin', 'tenant-admin', 'operator', 'job', 'agent'], summary: "The job's error log: every non-Ok file result and every disk-level problem, oldest first" },
    schema: { params: JobParams, response: { 200: ErrorLog } },
    handler: async (request) => ({ errors: await listJobErrors(ctx, principalOf(request), request.params.jobId) }),
  });
  app.route({
    method: 'POST',
    url: '/v1/import-jobs/:jobId/adopt',
    config: { access: ['agent', 'tenant-admin', 'admin'], summary: "Adopt the job's objects into its vault (in the background); exclude names index files not to adopt" },
    bodyLimit: 1024 * 1024,
    schema: { params: JobParams, body: z.strictObject({ exclude: z.array(IndexKey).max(10_000) }), response: { 202: ImportJob } },
    handler: async (request, reply) => reply.status(202).send(await requestAdoption(ctx, principalOf(request), request.params.jobId, request.body.exclude)),
  });
  app.route({
    method: 'POST',
    url: '/v1/import-jobs/:jobId/close',
    config: { access: ['agent', 'tenant-admin', 'admin'], summary: 'Remove the imported objects of an adopted job: Adopted → Closed' },
    schema: { params: JobParams, body: z.strictObject({}).nullish(), response: { 200: ImportJob } },
    handler: async (request) => closeImportJob(ctx, principalOf(request), request.params.jobId),
  });
}

/**
 * The import object routes: the vault object wire protocol (docs/service-http-storage.md) over the job's
 * imported objects, so `HttpStorage({url: <server>/v1/import-jobs/<jobId>})` reads and writes them. No DELETE.
 */
export function registerImportObjectRoutes(app: FastifyInstance, deps: ObjectRouteDeps): void {
  registerObjectRoutes(app, deps, {
    base: '/v1/import-jobs/:jobId',
    param: 'jobId',
    paramSchema: RecordId,
    noun: 'import',
    access: ['admin', 'tenant-admin', 'agent', 'operator'],
    resolve: resolveImportForObjects,
    scopeOf: (id) => `import:${id}`,
    remove: false,
    checkUploadKey: checkImportKey,
  });
}
