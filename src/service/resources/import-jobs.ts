import { AlreadyExistsError, ForbiddenError, UserError } from '../../core/errors.js';
import { actorOf, type Principal } from '../auth/principal.js';
import type { Role } from '../auth/roles.js';
import { canSeeJob, visibleOrNotFound } from '../auth/scope.js';
import { tokenCreated } from '../audit/audit-events.js';
import { recordAudit } from '../audit/audit-log.js';
import { issueToken } from '../auth/token-store.js';
import { checkContainerName } from '../backend-location.js';
import { isUniqueViolation } from '../db/constraint-errors.js';
import type { ServiceContext } from '../context.js';
import { newRecordId } from '../ids.js';
import type { CreatedImportJob, DiskRegistration, DiskReplacement, ImportJobRequest, JobShipping, PreparedJob } from '../../contract/import-job.js';
import { readJob, readJobs, type JobRecord } from '../jobs/job-records.js';
import { changeImportJob, insertImportJob, type JobStoreDeps } from '../jobs/job-store.js';
import { getTenant } from './tenants.js';
import { getVault } from './vaults.js';

/**
 * Creates an import job for the vault (state `Creating`, no disks) and its job token, in one
 * transaction. The principal must see the vault (an agent: its own; else `NotFoundError`). The storage
 * account must be one of the vault's tenant's (`UserError`), the container must not hold a vault
 * (`AlreadyExistsError`), the name must be unused in the tenant (`AlreadyExistsError`), and the vault may
 * have no other open job (`SeedPendingError`).
 */
export async function createImportJob(ctx: ServiceContext, principal: Principal, vaultId: string, request: ImportJobRequest): Promise<CreatedImportJob> {
  const vault = await getVault(ctx, principal, vaultId);
  requireRole(principal, ['admin', 'tenant-admin', 'agent'], 'create import jobs');
  checkContainerName(request.container);
  const wanted = request.storageAccountId ?? request.storageAccount;
  if (wanted === undefined) throw new UserError('name the storage account to import into (storageAccountId or storageAccount)');
  const account = await ctx.db
    .selectFrom('storage_accounts')
    .select('id')
    .where('tenant_id', '=', vault.tenantId)
    .where(request.storageAccountId !== undefined ? 'id' : 'name', '=', wanted)
    .executeTakeFirst();
  if (account === undefined) {
    throw new UserError(`storage account ${wanted} is not one of the storage accounts of the vault's tenant: the disks can only be ingested into the tenant's own storage`);
  }
  const holder = await ctx.db.selectFrom('vaults').select('name').where('storage_account_id', '=', account.id).where('container', '=', request.container).executeTakeFirst();
  if (holder !== undefined) throw new AlreadyExistsError(`container "${request.container}" of this storage account holds vault "${holder.name}": choose another container for the import job`);
  const id = newRecordId(ctx.random);
  const create = () =>
    ctx.db.transaction().execute(async (trx) => {
      const job = await insertImportJob(trx, ctx.clock.now(), {
        id,
        tenantId: vault.tenantId,
        vaultId: vault.id,
        storageAccountId: account.id,
        container: request.container,
        name: request.name,
        actor: actorOf(principal),
        createdByTokenId: principal.tokenId,
      });
      const token = await issueToken({ db: trx, clock: ctx.clock, random: ctx.random }, { role: 'job', tenantId: vault.tenantId, jobId: id, createdByTokenId: principal.tokenId });
      await recordAudit({ ...ctx, db: trx }, tokenCreated(actorOf(principal), token, { jobName: request.name }));
      return { job, jobToken: token.token };
    });
  try {
    return await create();
  } catch (err) {
    // Lost a race to a job created at the same moment (PostgreSQL runs the transactions side by side; SQLite
    // one after the other): once more, so that the checks see the winner and say which rule it broke.
    if (err instanceof AlreadyExistsError && isUniqueViolation(err.cause)) return await create();
    throw err;
  }
}

/** The job with its disks and timeline; `NotFoundError` when it does not exist or the principal may not see it (auth/scope.ts). */
export async function getImportJob(ctx: ServiceContext, principal: Principal, jobId: string): Promise<JobRecord> {
  const read = await readJob(ctx.db, jobId);
  return visibleOrNotFound(read?.job, (job) => canSeeJob(principal, job), `import job ${jobId} not found`);
}

/** The tenant's jobs, oldest first; `NotFoundError` for a tenant the principal may not see. */
export async function listTenantImportJobs(ctx: ServiceContext, principal: Principal, tenantId: string): Promise<JobRecord[]> {
  await getTenant(ctx, principal, tenantId);
  return (await readJobs(ctx.db, { tenantId })).map((r) => r.job);
}

/**
 * The jobs the principal may see that match the filter (all tenants for admins and operators, its own
 * for a tenant-admin): how the CLI finds a job by name.
 */
export async function findImportJobs(ctx: ServiceContext, principal: Principal, filter: { name?: string; tenantId?: string }): Promise<JobRecord[]> {
  requireRole(principal, ['admin', 'operator', 'tenant-admin'], 'search import jobs');
  const tenantId = principal.role === 'tenant-admin' ? principal.tenantId : filter.tenantId;
  if (principal.role === 'tenant-admin' && filter.tenantId !== undefined && filter.tenantId !== tenantId) return [];
  const jobs = await readJobs(ctx.db, { ...(tenantId !== undefined ? { tenantId } : {}), ...(filter.name !== undefined ? { name: filter.name } : {}) });
  return jobs.map((r) => r.job).filter((job) => canSeeJob(principal, job));
}

/** The disk key sealed with the service key, the disk id as associated data: never stored in plain. */
function sealDiskKey(ctx: ServiceContext, disk: DiskRegistration): string {
  return ctx.serviceKey.seal(Buffer.from(disk.diskKey, 'base64'), disk.diskId, ctx.random);
}

/** Registers (or replaces) disk `index` of the job token's own job and escrows its key. */
export async function registerJobDisk(ctx: ServiceContext, principal: Principal, jobId: string, index: number, disk: DiskRegistration): Promise<JobRecord> {
  await visibleJob(ctx, principal, jobId, ['job'], 'register disks');
  const action = { kind: 'registerDisk', disk: { id: disk.diskId, index, bytes: disk.bytes, files: disk.files, manifestSha256: disk.manifestSha256 } } as const;
  return (await changeImportJob(storeDeps(ctx), jobId, action, actorOf(principal), { sealedDiskKey: sealDiskKey(ctx, disk) })).job;
}

/**
 * Registers a new disk of the job token's own job in place of disk `index` (`replaces`, which has not
 * arrived: Prepared or NeverReceived) and escrows its key; the old disk is refused from then on.
 */
export async function replaceJobDisk(ctx: ServiceContext, principal: Principal, jobId: string, index: number, disk: DiskReplacement): Promise<JobRecord> {
  await visibleJob(ctx, principal, jobId, ['job'], 'replace disks');
  const action = { kind: 'replaceDisk', disk: { id: disk.diskId, index, bytes: disk.bytes, files: disk.files, manifestSha256: disk.manifestSha256 }, replaces: disk.replaces } as const;
  return (await changeImportJob(storeDeps(ctx), jobId, action, actorOf(principal), { sealedDiskKey: sealDiskKey(ctx, disk) })).job;
}

/**
 * Records that diskprep prepared all `disks` disks of the job token's job: sets `preparedAt`, which
 * starts the tracking deadline. Repeating it with the same count changes nothing. Answers the job and the
 * address the disks go to.
 */
export async function markJobPrepared(ctx: ServiceContext, principal: Principal, jobId: string, disks: number): Promise<PreparedJob> {
  await visibleJob(ctx, principal, jobId, ['job'], 'report prepared disks');
  const { job } = await changeImportJob(storeDeps(ctx), jobId, { kind: 'markPrepared', disks }, actorOf(principal));
  return { job, shippingAddress: ctx.importJobs.shippingAddress };
}

/** Enters (or, until the job is received, changes) carrier, tracking number and return address. */
export async function shipImportJob(ctx: ServiceContext, principal: Principal, jobId: string, shipping: JobShipping): Promise<JobRecord> {
  await visibleJob(ctx, principal, jobId, ['admin', 'tenant-admin', 'agent'], 'enter shipping information');
  return (await changeImportJob(storeDeps(ctx), jobId, { kind: 'ship', shipping }, actorOf(principal))).job;
}

/** Cancels the job; only before it is received. */
export async function cancelImportJob(ctx: ServiceContext, principal: Principal, jobId: string): Promise<JobRecord> {
  await visibleJob(ctx, principal, jobId, ['admin', 'tenant-admin', 'agent'], 'cancel import jobs');
  return (await changeImportJob(storeDeps(ctx), jobId, { kind: 'cancel' }, actorOf(principal))).job;
}

/** How the timeline names the principal (kept here for the modules that import it from here). */
export { actorOf } from '../auth/principal.js';

/** The job store over the service's database, clock and import job settings. */
export function storeDeps(ctx: ServiceContext): JobStoreDeps {
  return { db: ctx.db, clock: ctx.clock, random: ctx.random, settings: ctx.importJobs };
}

/** The job, when the principal may see it (else `NotFoundError`) and has one of `roles` (else `ForbiddenError` saying it may not `what`). */
export async function visibleJob(ctx: ServiceContext, principal: Principal, jobId: string, roles: readonly Role[], what: string): Promise<JobRecord> {
  const job = await getImportJob(ctx, principal, jobId);
  requireRole(principal, roles, what);
  return job;
}

function requireRole(principal: Principal, roles: readonly Role[], what: string): void {
  if (!roles.includes(principal.role)) throw new ForbiddenError(`a ${principal.role} token may not ${what}`);
}
