/**
 * The vault's side of an import job (docs/service.md, "Adoption"): where the imported objects live, asking
 * for their adoption into the vault (the copy itself is the adoption worker's: worker/adoption-worker.ts),
 * and closing the job, which removes them.
 */
import type { Storage } from '../../storage/storage.js';
import type { Principal } from '../auth/principal.js';
import type { ServiceContext } from '../context.js';
import { applyJobAction } from '../jobs/job-machine.js';
import { jobFacts, type JobRecord } from '../jobs/job-records.js';
import { changeImportJob } from '../jobs/job-store.js';
import { PrefixedStorage } from '../vault-objects/prefixed-storage.js';
import { actorOf, storeDeps, visibleJob } from './import-jobs.js';
import { openVaultStorage } from './vault-storage.js';

/** Where job `jobId`'s imported objects live in its container: `import/<jobId>/`, then the repository key. */
export function importPrefix(jobId: string): string {
  return `import/${jobId}/`;
}

/**
 * Opens the job's imported objects as a Storage whose keys are repository keys (`data/ab/ab…`): the
 * prefix `import/<jobId>/` of the job's container on its storage account. The caller closes it.
 */
export async function openImportStorage(ctx: ServiceContext, job: Pick<JobRecord, 'id' | 'storageAccountId' | 'container'>): Promise<Storage> {
  return new PrefixedStorage(await openVaultStorage(ctx, job), importPrefix(job.id));
}

/**
 * Asks for the adoption of the job's objects into its vault, leaving out `exclude` (index files the agent
 * replaced). Idempotent while it runs with the same keys, and once adopted; a failed adoption starts again.
 */
export async function requestAdoption(ctx: ServiceContext, principal: Principal, jobId: string, exclude: readonly string[]): Promise<JobRecord> {
  await visibleJob(ctx, principal, jobId, ['agent', 'tenant-admin', 'admin'], 'adopt import jobs');
  return (await changeImportJob(storeDeps(ctx), jobId, { kind: 'requestAdoption', exclude }, actorOf(principal))).job;
}

/**
 * Closes an adopted job: removes every imported object (idempotent: a close interrupted half-way removes
 * the rest when repeated), then the job becomes Closed. Refused (409, naming the state) before adoption;
 * a closed job is answered as it is.
 */
export async function closeImportJob(ctx: ServiceContext, principal: Principal, jobId: string): Promise<JobRecord> {
  const job = await visibleJob(ctx, principal, jobId, ['agent', 'tenant-admin', 'admin'], 'close import jobs');
  // The rules first, so that nothing is removed from a job that may not be closed.
  const { note } = applyJobAction(jobFacts(job), { kind: 'close' }, { now: ctx.clock.now(), settings: ctx.importJobs });
  if (note === null) return job;
  const storage = await openImportStorage(ctx, job);
  try {
    const keys: string[] = [];
    await storage.list('', (info) => void keys.push(info.key));
    for (const key of keys) await storage.remove(key);
  } finally {
    await storage.close();
  }
  return (await changeImportJob(storeDeps(ctx), jobId, { kind: 'close' }, actorOf(principal))).job;
}
