import type { ServiceDatabase } from '../db/database.js';
import type { Selectable } from 'kysely';
import type { ImportJob, ImportJobAdoption, ImportJobDisk } from '../../contract/import-job.js';
import { ADOPTION_STATES, isDiskState, isJobState, type JobState } from '../../contract/job-states.js';
import type { ImportJobsTable, JobAdoptionsTable, JobDisksTable, JobEventsTable } from '../db/schema.js';
import type { JobFacts } from './job-machine.js';

/** The adoption as the service keeps it: the API's answer, and the excluded keys themselves (for the rules and the worker; the API answers only their count). */
export type JobAdoption = ImportJobAdoption & { readonly excludedKeys: readonly string[] };

/**
 * An import job as the service reads it: the API's answer (src/contract/import-job.ts, whose response
 * schema drops what is not in it), with the adoption's excluded keys. Never a disk key.
 */
export type JobRecord = Omit<ImportJob, 'adoption'> & { readonly adoption: JobAdoption | null };

/** A job as read for a change: the job, and the version its row had. */
export interface VersionedJob {
  readonly job: JobRecord;
  readonly version: number;
}

/** Which jobs {@link readJobs} returns; every given field must match. */
export interface JobFilter {
  readonly id?: string;
  readonly tenantId?: string;
  readonly name?: string;
}

/** The jobs matching `filter` with their disks and timelines, oldest first (then by name). */
export async function readJobs(db: ServiceDatabase, filter: JobFilter): Promise<VersionedJob[]> {
  let query = db.selectFrom('import_jobs').selectAll();
  if (filter.id !== undefined) query = query.where('id', '=', filter.id);
  if (filter.tenantId !== undefined) query = query.where('tenant_id', '=', filter.tenantId);
  if (filter.name !== undefined) query = query.where('name', '=', filter.name);
  const rows = await query.orderBy('created_at').orderBy('name').execute();
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const disks = await db.selectFrom('job_disks').selectAll().where('job_id', 'in', ids).orderBy('job_id').orderBy('disk_index').execute();
  const events = await db.selectFrom('job_events').selectAll().where('job_id', 'in', ids).orderBy('job_id').orderBy('seq').execute();
  const failed = await db
    .selectFrom('job_file_results')
    .select(['job_id', 'disk_index', (eb) => eb.fn.countAll<number>().as('count')])
    .where('job_id', 'in', ids)
    .where('code', '!=', 'Ok')
    .groupBy(['job_id', 'disk_index'])
    .execute();
  const problems = await db
    .selectFrom('job_problems')
    .select(['job_id', (eb) => eb.fn.countAll<number>().as('count')])
    .where('job_id', 'in', ids)
    .groupBy('job_id')
    .execute();
  const adoptions = await db.selectFrom('job_adoptions').selectAll().where('job_id', 'in', ids).execute();
  return rows.map((row) => {
    const failedOf = (index: number): number => Number(failed.find((f) => f.job_id === row.id && Number(f.disk_index) === index)?.count ?? 0);
    const errorCount =
      failed.filter((f) => f.job_id === row.id).reduce((sum, f) => sum + Number(f.count), 0) + Number(problems.find((p) => p.job_id === row.id)?.count ?? 0);
    return {
      job: toJobRecord(
        row,
        disks.filter((d) => d.job_id === row.id).map((d) => toJobDisk(d, failedOf(Number(d.disk_index)))),
        events.filter((e) => e.job_id === row.id),
        errorCount,
        adoptions.find((a) => a.job_id === row.id),
      ),
      version: Number(row.version),
    };
  });
}

/** The job with this id, or undefined. */
export async function readJob(db: ServiceDatabase, id: string): Promise<VersionedJob | undefined> {
  return (await readJobs(db, { id }))[0];
}

/** A vault's pending offline seed: its open import job (at most one), in short. */
export interface VaultSeed {
  readonly jobId: string;
  readonly jobName: string;
  readonly state: JobState;
}

/** The open import job of the vault, or null when no seed is pending. */
export async function readVaultSeed(db: ServiceDatabase, vaultId: string): Promise<VaultSeed | null> {
  const row = await db.selectFrom('import_jobs').select(['id', 'name', 'state']).where('open_vault_id', '=', vaultId).executeTakeFirst();
  return row === undefined ? null : { jobId: row.id, jobName: row.name, state: jobState(row.state, row.id) };
}

/** The part of a job the rules decide on. */
export function jobFacts(job: JobRecord): JobFacts {
  return {
    state: job.state,
    preparedAt: job.preparedAt,
    trackingDeadline: job.trackingDeadline,
    shipping: job.carrier !== null && job.trackingNumber !== null && job.returnAddress !== null ? { carrier: job.carrier, trackingNumber: job.trackingNumber, returnAddress: job.returnAddress } : null,
    shippedAt: job.shippedAt,
    receivedAt: job.receivedAt,
    disks: job.disks.map(({ id, index, state, bytes, files, manifestSha256 }) => ({ id, index, state, bytes, files, manifestSha256 })),
    adoption: job.adoption === null ? null : { state: job.adoption.state, excluded: job.adoption.excludedKeys },
  };
}

function toJobRecord(row: ImportJobsTable, disks: ImportJobDisk[], events: readonly JobEventsTable[], errorCount: number, adoption: JobAdoptionsTable | undefined): JobRecord {
  return {
    id: row.id,
    name: row.name,
    tenantId: row.tenant_id,
    vaultId: row.vault_id,
    storageAccountId: row.storage_account_id,
    container: row.container,
    state: jobState(row.state, row.id),
    createdAt: row.created_at,
    preparedAt: row.prepared_at,
    trackingDeadline: row.tracking_deadline,
    carrier: row.carrier,
    trackingNumber: row.tracking_number,
    returnAddress: row.return_address,
    shippedAt: row.shipped_at,
    receivedAt: row.received_at,
    disks,
    errorCount,
    adoption: adoption === undefined ? null : toAdoption(adoption),
    timeline: events.map((e) => ({ at: e.created_at, state: jobState(e.state, row.id), actor: e.actor, ...(e.note !== null ? { note: e.note } : {}) })),
  };
}

function toJobDisk(row: Selectable<JobDisksTable>, filesFailed: number): ImportJobDisk {
  if (!isDiskState(row.state)) throw new Error(`disk ${row.id} has an unknown state ${row.state}`);
  return {
    id: row.id,
    index: Number(row.disk_index),
    state: row.state,
    bytes: Number(row.bytes),
    files: Number(row.files),
    manifestSha256: row.manifest_sha256,
    progress:
      row.progress_started_at === null
        ? null
        : {
            bytesDone: Number(row.bytes_done),
            filesDone: Number(row.files_done),
            filesFailed,
            startedAt: row.progress_started_at,
            updatedAt: row.progress_updated_at ?? row.progress_started_at,
          },
  };
}

function toAdoption(row: JobAdoptionsTable): JobAdoption {
  const state = ADOPTION_STATES.find((s) => s === row.state);
  if (state === undefined) throw new Error(`the adoption of import job ${row.job_id} has an unknown state ${row.state}`);
  const excludedKeys = JSON.parse(row.excluded) as string[];
  return {
    state,
    objectsTotal: row.objects_total === null ? null : Number(row.objects_total),
    objectsDone: Number(row.objects_done),
    bytesDone: Number(row.bytes_done),
    excluded: excludedKeys.length,
    excludedKeys,
    serverSideCopy: row.copy_mode === 'server-side',
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    error: row.error,
  };
}

function jobState(value: string, jobId: string): JobState {
  if (!isJobState(value)) throw new Error(`import job ${jobId} has an unknown state ${value}`);
  return value;
}
