import type { FastifyRequest } from 'fastify';
import { ForbiddenError, UserError } from '../core/errors.js';
import { idOfKey } from '../storage/layout.js';
import { INGESTING_JOB_STATES } from '../contract/job-states.js';
import { releaseAfterResponse } from './api/request-resources.js';
import { principalOf } from './api/route-access.js';
import { IllegalTransitionError } from './jobs/job-errors.js';
import type { JobRecord } from './jobs/job-records.js';
import { getImportJob } from './resources/import-jobs.js';
import { openImportStorage } from './resources/import-adoption.js';
import type { ResolvedVault } from './vault-objects/vault-access.js';

/**
 * Decides what the authenticated request may do with import job `jobId`'s objects and opens them
 * (docs/service.md, "Imported objects"). Everyone who may see the job (admin, operator, its tenant's
 * tenant-admin, its vault's agent) may list, read and stat until it is Closed. Writing (PUT): the operator
 * while the job is Received or Transferring; the vault's agent while it is Completed or
 * CompletedWithErrors and its adoption is not requested or failed (healing before adoption). Writers are
 * append-only: an existing object is verified, never replaced.
 * `NotFoundError` (404) for a job the principal may not see, `ForbiddenError` (403) for a role that may
 * not write, `IllegalTransitionError` (409) for a write in the wrong state and for a closed job.
 */
export async function resolveImportForObjects(request: FastifyRequest, jobId: string): Promise<ResolvedVault> {
  const ctx = request.server.service;
  const principal = principalOf(request);
  if (principal.role === 'job') throw new ForbiddenError('a job token may not read or write imported objects');
  const job = await getImportJob(ctx, principal, jobId);
  if (job.state === 'Closed') throw new IllegalTransitionError('the job is Closed: its imported objects were removed');
  if (request.method === 'PUT') refuseImportWrite(job, principal.role);
  const storage = await openImportStorage(ctx, job);
  releaseAfterResponse(request, () => storage.close());
  return { storage, access: 'append-only' };
}

/**
 * Throws unless a `role` may store objects into `job`'s import now (see {@link resolveImportForObjects}):
 * `IllegalTransitionError` in the wrong state, `ForbiddenError` for a role that never writes.
 */
export function refuseImportWrite(job: JobRecord, role: string): void {
  if (role === 'operator') {
    if (INGESTING_JOB_STATES.includes(job.state)) return;
    throw new IllegalTransitionError(`the job is ${job.state}: the datacenter stores imported objects only while it is Received or Transferring`);
  }
  if (role === 'agent') {
    const healing = (job.state === 'Completed' || job.state === 'CompletedWithErrors') && (job.adoption === null || job.adoption.state === 'Failed');
    if (healing) return;
    throw new IllegalTransitionError(
      `the job is ${job.state}${job.adoption ? ` with its adoption ${job.adoption.state}` : ''}: the agent adds objects to an import only after its ingest (Completed or CompletedWithErrors) and before its adoption runs`,
    );
  }
  throw new ForbiddenError(`a ${role} token may read imported objects but not write them`);
}

/** Throws a `UserError` unless `key` can be imported: a content-named pack, index file or snapshot. */
export function checkImportKey(key: string): void {
  if (idOfKey('pack', key) === undefined && idOfKey('index', key) === undefined && idOfKey('snapshot', key) === undefined) {
    throw new UserError(`only content-named objects under data/<xx>/, index/ and snapshots/ can be imported; ${JSON.stringify(key)} is not one`);
  }
}
