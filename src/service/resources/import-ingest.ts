/**
 * The datacenter's side of an import job (docs/service.md, "Ingest"): receiving, disk keys, each disk's
 * ingest with its per-file results and progress, and the job's error log. The rules are the job machine's
 * (jobs/job-machine.ts); this module checks who asks, records what the rules cannot (results, problems),
 * and adds the disk-level problems the rules refuse to the error log.
 */
import { auditFailure } from '../audit/audit-log.js';
import type { Principal } from '../auth/principal.js';
import type { ServiceContext } from '../context.js';
import { newRecordId, isoTime } from '../ids.js';
import { doneFiles, ingestTally, insertProblem, readErrorLog, upsertFileResults } from '../jobs/ingest-records.js';
import { DiskIdMismatchError, IllegalTransitionError, JobExpiredError, ManifestMismatchError } from '../jobs/job-errors.js';
import { FINAL_DISK_STATES, INGESTED_JOB_STATES, INGESTING_JOB_STATES } from '../../contract/job-states.js';
import type { DiskIngestRequest, DiskKeyRelease, ErrorLogEntry, FileResultsReport, IngestProblem, IngestStart } from '../../contract/ingest.js';
import { readJob, type JobRecord } from '../jobs/job-records.js';
import { changeImportJob } from '../jobs/job-store.js';
import { actorOf, getImportJob, storeDeps, visibleJob } from './import-jobs.js';
import { NotFoundError } from '../../core/errors.js';
import { isWriteConflict } from '../db/constraint-errors.js';

/** The disks arrived at the datacenter: Shipping → Received (operator, admin). */
export async function receiveImportJob(ctx: ServiceContext, principal: Principal, jobId: string): Promise<JobRecord> {
  await visibleJob(ctx, principal, jobId, ['operator', 'admin'], 'receive import jobs');
  return (await changeImportJob(storeDeps(ctx), jobId, { kind: 'receive' }, actorOf(principal))).job;
}

/**
 * Releases disk `index`'s key to an operator, on the timeline and in the audit log. `diskId` must be the
 * id registered for that index (else `DiskIdMismatchError`, and a DiskIdMismatch entry in the error log);
 * a refused release is in the audit log too. The key is opened with the service key here; `IntegrityError`
 * when it does not open (changed in the database).
 */
export async function releaseDiskKey(ctx: ServiceContext, principal: Principal, jobId: string, index: number, diskId: string): Promise<DiskKeyRelease> {
  const job = await visibleJob(ctx, principal, jobId, ['operator'], 'read disk keys');
  const refused = auditFailure(ctx, { actor: actorOf(principal), tenantId: job.tenantId, action: 'disk-key.release', target: { type: 'import-job', id: jobId }, detail: { diskIndex: index, diskId } });
  await logRefusedDisk(ctx, principal, jobId, index, () =>
    changeImportJob(storeDeps(ctx), jobId, { kind: 'releaseDiskKey', index, diskId, operator: principal.tokenId }, actorOf(principal)),
  ).catch(refused);
  const row = await ctx.db.selectFrom('job_disks').select(['id', 'disk_key']).where('job_id', '=', jobId).where('disk_index', '=', index).executeTakeFirstOrThrow();
  if (row.disk_key === null) throw new NotFoundError(`the key of disk ${index} was destroyed: the job is past the point where a key can be released`);
  return { diskId: row.id, diskKey: ctx.serviceKey.open(row.disk_key, row.id).toString('base64') };
}

/**
 * Starts (or resumes) the ingest of disk `index`: checks the disk id and the manifest's SHA-256 against
 * the registered ones (refusals are logged: DiskIdMismatch, ManifestCorrupted), moves disk and job to
 * Transferring, and answers the files already done.
 */
export async function startDiskIngest(
  ctx: ServiceContext,
  principal: Principal,
  jobId: string,
  index: number,
  disk: DiskIngestRequest,
): Promise<IngestStart> {
  await visibleJob(ctx, principal, jobId, ['operator'], 'ingest disks');
  const action = { kind: 'startDiskIngest', index, diskId: disk.diskId, manifestSha256: disk.manifestSha256 } as const;
  const { job } = await logRefusedDisk(ctx, principal, jobId, index, () => changeImportJob(storeDeps(ctx), jobId, action, actorOf(principal)));
  const state = job.disks.find((d) => d.index === index)!.state;
  return { job, finished: INGESTED_JOB_STATES.includes(job.state) || FINAL_DISK_STATES.includes(state), done: await doneFiles(ctx.db, jobId, index) };
}

/**
 * Records file results and the progress of disk `index`, whose ingest must be running (Transferring).
 * A result replaces an earlier one for the same path.
 */
export async function recordDiskResults(
  ctx: ServiceContext,
  principal: Principal,
  jobId: string,
  index: number,
  report: FileResultsReport,
): Promise<void> {
  await visibleJob(ctx, principal, jobId, ['operator'], 'record ingest results');
  await retryingWriteConflicts(() => ctx.db.transaction().execute(async (trx) => {
    const job = (await readJob(trx, jobId))?.job;
    if (job === undefined) throw new NotFoundError(`import job ${jobId} not found`);
    const disk = job.disks.find((d) => d.index === index);
    requireIngesting(job);
    if (disk === undefined) throw new IllegalTransitionError(`the job has no disk ${index}`);
    if (disk.state !== 'Transferring') {
      throw new IllegalTransitionError(`disk ${index} is ${disk.state}: results are recorded only while its ingest runs (start it with POST …/disks/${index}/ingest)`);
    }
    const at = isoTime(ctx.clock.now());
    await upsertFileResults(trx, jobId, index, report.results, at);
    await trx
      .updateTable('job_disks')
      .set({ bytes_done: report.progress.bytesDone, files_done: report.progress.filesDone, progress_updated_at: at })
      .where('job_id', '=', jobId)
      .where('disk_index', '=', index)
      .execute();
  }));
}

/** Runs a transaction again (up to 5 times) when another connection's write got in its way. */
async function retryingWriteConflicts<T>(transaction: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transaction();
    } catch (err) {
      if (!isWriteConflict(err) || attempt >= 5) throw err;
    }
  }
}

/** Finishes disk `index` from its recorded results, and the job when every disk is final. */
export async function finishDiskIngest(ctx: ServiceContext, principal: Principal, jobId: string, index: number): Promise<JobRecord> {
  await visibleJob(ctx, principal, jobId, ['operator'], 'finish disks');
  const decide = async (db: typeof ctx.db) => ({ kind: 'finishDisk', index, tally: await ingestTally(db, jobId, index) }) as const;
  return (await changeImportJob(storeDeps(ctx), jobId, decide, actorOf(principal))).job;
}

/** Adds a disk-level problem (a foreign or unknown disk, a manifest that fails authentication) to the error log. */
export async function reportJobProblem(ctx: ServiceContext, principal: Principal, jobId: string, problem: IngestProblem): Promise<void> {
  const job = await visibleJob(ctx, principal, jobId, ['operator'], 'report ingest problems');
  requireIngesting(job);
  await insertProblem(ctx.db, newRecordId(ctx.random), jobId, problem, actorOf(principal), isoTime(ctx.clock.now()));
}

/** The job's error log, oldest first. */
export async function listJobErrors(ctx: ServiceContext, principal: Principal, jobId: string): Promise<ErrorLogEntry[]> {
  await getImportJob(ctx, principal, jobId);
  return readErrorLog(ctx.db, jobId);
}

function requireIngesting(job: JobRecord): void {
  if (job.state === 'Deleted') throw new JobExpiredError(`this job was deleted at its tracking deadline ${job.trackingDeadline ?? ''}: its disks are refused`);
  if (!INGESTING_JOB_STATES.includes(job.state)) {
    throw new IllegalTransitionError(`the job is ${job.state}: the datacenter works on its disks only while it is Received or Transferring`);
  }
}

/** Runs `change`; a disk the rules refuse as not the registered one is logged in the job's error log, then the refusal goes on. */
async function logRefusedDisk<T>(ctx: ServiceContext, principal: Principal, jobId: string, index: number, change: () => Promise<T>): Promise<T> {
  try {
    return await change();
  } catch (err) {
    const code = err instanceof DiskIdMismatchError ? 'DiskIdMismatch' : err instanceof ManifestMismatchError ? 'ManifestCorrupted' : undefined;
    if (code !== undefined) {
      await insertProblem(ctx.db, newRecordId(ctx.random), jobId, { diskIndex: index, path: null, code, message: (err as Error).message }, actorOf(principal), isoTime(ctx.clock.now()));
    }
    throw err;
  }
}
