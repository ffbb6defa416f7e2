/**
 * The datacenter's and the adoption's import job routes (docs/service.md, "Ingest" and "Adoption"): thin
 * routes over resources/import-ingest.ts and resources/import-adoption.ts, and the import object routes
 * (the vault object wire protocol under /v1/import-jobs/:jobId).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { UserError } from '../../core/errors.js';
import { idOfKey } from '../../storage/layout.js';
import type { ServiceContext } from '../context.js';
import { resolveImportForObjects } from '../import-access.js';
import { INGEST_ERROR_CODES } from '../jobs/ingest-records.js';
import { closeImportJob, requestAdoption } from '../resources/import-adoption.js';
import { finishDiskIngest, listJobErrors, receiveImportJob, recordDiskResults, releaseDiskKey, reportJobProblem, startDiskIngest } from '../resources/import-ingest.js';
import type { ApiApp } from './api-app.js';
import { DiskParams, ImportJob, JobParams } from './import-jobs.js';
import { principalOf } from './route-access.js';
import { RecordId, Timestamp } from './schemas.js';
import { registerObjectRoutes, type ObjectRouteDeps } from './vault-objects.js';

const Count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 is 64 lowercase hex digits');
/** A path as the datacenter reports it: a staging path (object key), or what an unexpected file is called on the disk. */
const ReportedPath = z
  .string()
  .min(1)
  .max(1024)
  .regex(/^[^\p{Cc}]+$/u, 'no control characters');
const Message = z
  .string()
  .min(1)
  .max(2000)
  .regex(/^(?:[^\p{Cc}]|\n)+$/u, 'no control characters but line breaks');
const ErrorCode = z.enum(INGEST_ERROR_CODES);

const FileResult = z
  .strictObject({ path: ReportedPath, size: Count, sha256: Sha256.nullable(), code: z.enum(['Ok', ...INGEST_ERROR_CODES]), message: Message.nullable() })
  .refine((r) => r.code !== 'Ok' || r.sha256 !== null, 'an Ok result needs the sha256 of the file');

const ErrorEntry = z.object({ at: Timestamp, diskIndex: z.number().int().nullable(), path: z.string().nullable(), code: ErrorCode, message: z.string() });

/** Index keys the agent may leave out of an adoption: `index/<64 hex>`. */
const IndexKey = z.string().refine((key) => idOfKey('index', key) !== undefined, 'only index files (index/<64 hex digits>) may be excluded from an adoption');

/** Object keys that can be imported: the content-named packs, index files and snapshots. */
function checkImportKey(key: string): void {
  if (idOfKey('pack', key) === undefined && idOfKey('index', key) === undefined && idOfKey('snapshot', key) === undefined) {
    throw new UserError(`only content-named objects under data/<xx>/, index/ and snapshots/ can be imported; ${JSON.stringify(key)} is not one`);
  }
}

/** Routes 1–7 and 9–10 of the issue 6 contract; see registerImportObjectRoutes for 8. */
export function registerImportIngestRoutes(app: ApiApp, ctx: ServiceContext): void {
  app.route({
    method: 'POST',
    url: '/v1/import-jobs/:jobId/receive',
    config: { access: ['operator', 'admin'], summary: 'The disks arrived at the datacenter: Shipping → Received (refused for deleted, cancelled and unshipped jobs)' },
    schema: { params: JobParams, body: z.strictObject({}).optional(), response: { 200: ImportJob } },
    handler: async (request) => receiveImportJob(ctx, principalOf(request), request.params.jobId),
  });
  app.route({
    method: 'GET',
    url: '/v1/import-jobs/:jobId/disks/:index/key',
    config: { access: ['operator'], summary: "Release a disk's key to the operator ingesting it (on the job's timeline); diskId must be the registered one" },
    schema: { params: DiskParams, querystring: z.strictObject({ diskId: RecordId }), response: { 200: z.object({ diskId: RecordId, diskKey: z.string() }) } },
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
      body: z.strictObject({ diskId: RecordId, manifestSha256: Sha256 }),
      response: { 200: z.object({ job: ImportJob, finished: z.boolean(), done: z.array(z.object({ path: z.string(), size: z.number(), sha256: z.string() })) }) },
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
      body: z.strictObject({ results: z.array(FileResult).max(1000), progress: z.strictObject({ bytesDone: Count, filesDone: Count }) }),
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
    schema: { params: DiskParams, body: z.strictObject({}).optional(), response: { 200: ImportJob } },
    handler: async (request) => finishDiskIngest(ctx, principalOf(request), request.params.jobId, request.params.index),
  });
  app.route({
    method: 'POST',
    url: '/v1/import-jobs/:jobId/errors',
    config: { access: ['operator'], summary: "Add a disk-level problem to the job's error log (foreign or unknown disk, corrupted manifest)" },
    schema: {
      params: JobParams,
      body: z.strictObject({ diskIndex: z.number().int().min(0).max(999).nullable(), path: ReportedPath.nullable(), code: ErrorCode, message: Message }),
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
    schema: { params: JobParams, response: { 200: z.object({ errors: z.array(ErrorEntry) }) } },
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
    schema: { params: JobParams, body: z.strictObject({}).optional(), response: { 200: ImportJob } },
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
