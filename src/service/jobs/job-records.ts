import type { ServiceDatabase } from '../db/database.js';
import type { ImportJobsTable, JobDisksTable, JobEventsTable } from '../db/schema.js';
import type { JobDisk, JobFacts } from './job-machine.js';
import { isDiskState, isJobState, type JobState } from './job-states.js';

/** One entry of a job's timeline: what happened, when, by whom, and the job's state after it. */
export interface JobEvent {
  readonly at: string;
  readonly state: JobState;
  /** `<role>:<token id>` of the caller, or `service:<task>` for the service's background work. */
  readonly actor: string;
  readonly note?: string;
}

/** An import job as the API shows it (docs/service.md, "Import jobs"): never a disk key. */
export interface ImportJob {
  readonly id: string;
  readonly name: string;
  readonly tenantId: string;
  readonly vaultId: string;
  readonly storageAccountId: string;
  readonly container: string;
  readonly state: JobState;
  readonly createdAt: string;
  readonly preparedAt: string | null;
  readonly trackingDeadline: string | null;
  readonly carrier: string | null;
  readonly trackingNumber: string | null;
  readonly returnAddress: string | null;
  /** Ordered by index. */
  readonly disks: JobDisk[];
  /** Oldest first. */
  readonly timeline: JobEvent[];
}

/** A job as read for a change: the job, and the version its row had. */
export interface VersionedJob {
  readonly job: ImportJob;
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
  return rows.map((row) => ({
    job: toImportJob(
      row,
      disks.filter((d) => d.job_id === row.id),
      events.filter((e) => e.job_id === row.id),
    ),
    version: Number(row.version),
  }));
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
export function jobFacts(job: ImportJob): JobFacts {
  return {
    state: job.state,
    preparedAt: job.preparedAt,
    trackingDeadline: job.trackingDeadline,
    shipping: job.carrier !== null && job.trackingNumber !== null && job.returnAddress !== null ? { carrier: job.carrier, trackingNumber: job.trackingNumber, returnAddress: job.returnAddress } : null,
    disks: job.disks,
  };
}

function toImportJob(row: ImportJobsTable, disks: readonly JobDisksTable[], events: readonly JobEventsTable[]): ImportJob {
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
    disks: disks.map(toJobDisk),
    timeline: events.map((e) => ({ at: e.created_at, state: jobState(e.state, row.id), actor: e.actor, ...(e.note !== null ? { note: e.note } : {}) })),
  };
}

function toJobDisk(row: JobDisksTable): JobDisk {
  if (!isDiskState(row.state)) throw new Error(`disk ${row.id} has an unknown state ${row.state}`);
  return {
    id: row.id,
    index: Number(row.disk_index),
    state: row.state,
    bytes: Number(row.bytes),
    files: Number(row.files),
    manifestSha256: row.manifest_sha256,
  };
}

function jobState(value: string, jobId: string): JobState {
  if (!isJobState(value)) throw new Error(`import job ${jobId} has an unknown state ${value}`);
  return value;
}
