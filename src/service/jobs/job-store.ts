import type { Clock } from '../../core/clock.js';
import type { RandomSource } from '../../core/random.js';
import { jobActionEvent } from '../audit/audit-events.js';
import { recordAudit } from '../audit/audit-log.js';
import { AlreadyExistsError, ConflictError, NotFoundError } from '../../core/errors.js';
import { isUniqueViolation, isWriteConflict } from '../db/constraint-errors.js';
import type { ServiceDatabase } from '../db/database.js';
import { revokeJobTokens } from '../auth/token-store.js';
import { isoTime } from '../ids.js';
import { SeedPendingError, TrackingNumberInUseError } from './job-errors.js';
import { applyJobAction, type JobAction, type JobFacts } from './job-machine.js';
import { jobFacts, readJob, type JobRecord, type VersionedJob } from './job-records.js';
import type { ImportJobSettings } from './job-settings.js';
import { DISK_KEY_JOB_STATES, isEndedJobState, isOpenJobState } from '../../contract/job-states.js';
import { trackingNumberKey } from '../../contract/tracking-number.js';

/** What the job store needs: the database (or a transaction on it), the clock, randomness (audit record ids) and the rules' settings. */
export interface JobStoreDeps {
  readonly db: ServiceDatabase;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly settings: ImportJobSettings;
}

/** A new job's record; the caller has checked that vault and storage account are the tenant's. */
export interface NewImportJob {
  readonly id: string;
  readonly tenantId: string;
  readonly vaultId: string;
  readonly storageAccountId: string;
  readonly container: string;
  readonly name: string;
  readonly actor: string;
  readonly createdByTokenId: string | null;
}

/** How many times a change is retried when another writer changed the job between its read and its write. */
const MAX_ATTEMPTS = 5;

class StaleRead extends Error {}

/**
 * Inserts a new job in `Creating`, with the first timeline event. `AlreadyExistsError` when the tenant
 * has a job of that name, `SeedPendingError` when the vault has an open job; both hold under concurrency
 * (unique constraints). Run it inside the caller's transaction when more must happen atomically.
 */
export async function insertImportJob(db: ServiceDatabase, now: number, spec: NewImportJob): Promise<JobRecord> {
  const at = isoTime(now);
  // The rules are checked first for a clear message; the unique constraints decide races.
  const named = await db.selectFrom('import_jobs').select('id').where('tenant_id', '=', spec.tenantId).where('name', '=', spec.name).executeTakeFirst();
  if (named !== undefined) throw new AlreadyExistsError(`the tenant already has an import job named "${spec.name}"`);
  const open = await db.selectFrom('import_jobs').select(['name', 'state']).where('open_vault_id', '=', spec.vaultId).executeTakeFirst();
  if (open !== undefined) {
    throw new SeedPendingError(`the vault already has an open import job "${open.name}" (${open.state}); finish or cancel it first (ferry job cancel ${open.name})`);
  }
  try {
    await db
      .insertInto('import_jobs')
      .values({
        id: spec.id,
        tenant_id: spec.tenantId,
        vault_id: spec.vaultId,
        storage_account_id: spec.storageAccountId,
        container: spec.container,
        name: spec.name,
        state: 'Creating',
        open_vault_id: spec.vaultId,
        prepared_at: null,
        tracking_deadline: null,
        carrier: null,
        tracking_number: null,
        tracking_number_key: null,
        return_address: null,
        version: 1,
        created_at: at,
        updated_at: at,
        created_by_token_id: spec.createdByTokenId,
        shipped_at: null,
        received_at: null,
      })
      .execute();
  } catch (err) {
    // Another request won a race the checks above did not see. (No query here to say which rule: after a
    // failed statement PostgreSQL refuses every query until the transaction ends.)
    if (isUniqueViolation(err)) {
      throw new AlreadyExistsError(`an import job named "${spec.name}", or another open import job for this vault, was created at the same moment (ferry job list shows it)`, { cause: err });
    }
    throw err;
  }
  await db.insertInto('job_events').values({ job_id: spec.id, seq: 1, created_at: at, state: 'Creating', action: 'create', actor: spec.actor, note: 'created' }).execute();
  return (await readJob(db, spec.id))!.job;
}

/**
 * An action decided from what the database holds, inside the change's transaction (so that e.g. a disk's
 * finish counts exactly the results recorded before it, and none slips in between count and write).
 */
export type ActionFromState = (db: ServiceDatabase, job: JobRecord) => Promise<JobAction>;

/** What {@link changeImportJob} may be given besides the action. */
export interface ChangeOptions {
  /** For `registerDisk` and `replaceDisk`: the disk key to escrow, sealed by the caller (secrets/service-key.ts). */
  readonly sealedDiskKey?: string;
}

/**
 * Applies `action` to job `jobId` by the rules (job-machine.ts) and records it: the job's row, its disks,
 * a timeline event by `actor` and, for a privileged act (cancel, close, …), an audit record, in one
 * transaction. When the job leaves the states in which disk keys can be released (DISK_KEY_JOB_STATES),
 * its escrowed disk keys are destroyed in that transaction. When the rules refuse, their error is thrown
 * and nothing changes; an action that changes nothing (a repeated report) records nothing.
 *
 * Safe with concurrent writers and several service instances: the row is updated only if it still has
 * the version that was read (else, or when the database reports a conflicting writer, the change is
 * retried on a fresh read, so two writers never both apply a transition); the tracking number's uniqueness is a unique index (`TrackingNumberInUseError` either
 * way). `NotFoundError` when the job does not exist. A transition into an ended state (Closed, Cancelled,
 * Deleted, Failed: src/contract/job-states.ts) revokes the job's tokens in the same transaction.
 */
export async function changeImportJob(deps: JobStoreDeps, jobId: string, action: JobAction | ActionFromState, actor: string, options: ChangeOptions = {}): Promise<{ job: JobRecord; changed: boolean }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await deps.db.transaction().execute((trx) => changeOnce({ ...deps, db: trx }, jobId, action, actor, options));
    } catch (err) {
      if (!(err instanceof StaleRead) && !isWriteConflict(err)) throw err;
      if (attempt >= MAX_ATTEMPTS) throw new ConflictError(`import job ${jobId} is being changed by someone else at the same time; try again`);
    }
  }
}

async function changeOnce(deps: JobStoreDeps, jobId: string, given: JobAction | ActionFromState, actor: string, options: ChangeOptions): Promise<{ job: JobRecord; changed: boolean }> {
  const read = await readJob(deps.db, jobId);
  if (read === undefined) throw new NotFoundError(`import job ${jobId} not found`);
  const action = typeof given === 'function' ? await given(deps.db, read.job) : given;
  const now = deps.clock.now();
  const before = jobFacts(read.job);
  const { job: after, note } = applyJobAction(before, action, { now, settings: deps.settings });
  if (note === null) return { job: read.job, changed: false };
  if (action.kind === 'ship') await refuseTrackingNumberOfOtherJob(deps.db, jobId, action.shipping.trackingNumber);
  try {
    await writeJob(deps.db, read, after, now);
    await writeDisks(deps.db, jobId, before, after, action, options, now);
    await writeAdoption(deps.db, jobId, before, after, action, now);
  } catch (err) {
    if (isUniqueViolation(err) && action.kind === 'ship') throw trackingNumberInUse(action.shipping.trackingNumber, err);
    if (isUniqueViolation(err) && (action.kind === 'registerDisk' || action.kind === 'replaceDisk')) throw new AlreadyExistsError(`disk id ${action.disk.id} belongs to another import job`, { cause: err });
    throw err;
  }
  await deps.db
    .insertInto('job_events')
    .values({ job_id: jobId, seq: read.job.timeline.length + 1, created_at: isoTime(now), state: after.state, action: action.kind, actor, note })
    .execute();
  const audited = jobActionEvent(read.job, action, actor);
  if (audited !== undefined) await recordAudit(deps, audited);
  // No one can use these keys any more: they go in the transaction that leaves the states that release them.
  if (DISK_KEY_JOB_STATES.includes(before.state) && !DISK_KEY_JOB_STATES.includes(after.state)) {
    const destroyed = await destroyDiskKeys(deps.db, jobId);
    if (destroyed > 0) await recordAudit(deps, { actor, tenantId: read.job.tenantId, action: 'disk-key.destroy', target: { type: 'import-job', id: jobId }, detail: { disks: destroyed, state: after.state } });
  }
  // A job that ended leaves its job token nothing to do: it dies with the transition, in the same transaction.
  if (isEndedJobState(after.state) && after.state !== before.state) {
    for (const tokenId of await revokeJobTokens(deps.db, jobId, now)) {
      await recordAudit(deps, { actor, tenantId: read.job.tenantId, action: 'token.revoke', target: { type: 'token', id: tokenId }, detail: { role: 'job', jobId, reason: 'job-ended' } });
    }
  }
  return { job: (await readJob(deps.db, jobId))!.job, changed: true };
}

async function writeJob(db: ServiceDatabase, read: VersionedJob, after: JobFacts, now: number): Promise<void> {
  const result = await db
    .updateTable('import_jobs')
    .set({
      state: after.state,
      open_vault_id: isOpenJobState(after.state) ? read.job.vaultId : null,
      prepared_at: after.preparedAt,
      tracking_deadline: after.trackingDeadline,
      carrier: after.shipping?.carrier ?? null,
      tracking_number: after.shipping?.trackingNumber ?? null,
      // Written when the number changes: a job that migration 0006 left with its old key keeps it until then.
      ...(after.shipping?.trackingNumber === (read.job.trackingNumber ?? undefined)
        ? {}
        : { tracking_number_key: after.shipping ? trackingNumberKey(after.shipping.trackingNumber) : null }),
      return_address: after.shipping?.returnAddress ?? null,
      shipped_at: after.shippedAt,
      received_at: after.receivedAt,
      version: read.version + 1,
      updated_at: isoTime(now),
    })
    .where('id', '=', read.job.id)
    .where('version', '=', read.version)
    .where('state', '=', read.job.state)
    .executeTakeFirst();
  if (result.numUpdatedRows !== 1n) throw new StaleRead();
}

async function writeDisks(db: ServiceDatabase, jobId: string, before: JobFacts, after: JobFacts, action: JobAction, options: ChangeOptions, now: number): Promise<void> {
  const at = isoTime(now);
  if (action.kind === 'registerDisk' || action.kind === 'replaceDisk') {
    if (options.sealedDiskKey === undefined) throw new Error('registering a disk needs its key');
    const disk = after.disks.find((d) => d.index === action.disk.index)!;
    const values = { id: disk.id, state: disk.state, bytes: disk.bytes, files: disk.files, manifest_sha256: disk.manifestSha256, disk_key: options.sealedDiskKey, updated_at: at };
    await db
      .insertInto('job_disks')
      .values({ job_id: jobId, disk_index: disk.index, created_at: at, ...values })
      .onConflict((oc) => oc.columns(['job_id', 'disk_index']).doUpdateSet(values))
      .execute();
    return;
  }
  for (const disk of after.disks) {
    const previous = before.disks.find((d) => d.index === disk.index);
    if (previous?.state !== disk.state) {
      await db.updateTable('job_disks').set({ state: disk.state, updated_at: at }).where('job_id', '=', jobId).where('disk_index', '=', disk.index).execute();
      if (disk.state === 'Transferring') {
        // The ingest's progress starts with it (a disk's ingest starts once).
        await db
          .updateTable('job_disks')
          .set({ bytes_done: 0, files_done: 0, progress_started_at: at, progress_updated_at: at })
          .where('job_id', '=', jobId)
          .where('disk_index', '=', disk.index)
          .where('progress_started_at', 'is', null)
          .execute();
      }
    }
  }
}

/**
 * Destroys the job's escrowed disk keys (NULL; the database zeroes the freed bytes: secure_delete).
 * Idempotent.
 */
export async function destroyDiskKeys(db: ServiceDatabase, jobId: string): Promise<number> {
  const result = await db.updateTable('job_disks').set({ disk_key: null }).where('job_id', '=', jobId).where('disk_key', 'is not', null).executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Records the adoption's changes of state; its progress is the worker's (jobs/adoption-store.ts). */
async function writeAdoption(db: ServiceDatabase, jobId: string, before: JobFacts, after: JobFacts, action: JobAction, now: number): Promise<void> {
  if (after.adoption === null || after.adoption.state === before.adoption?.state) return;
  const at = isoTime(now);
  if (after.adoption.state === 'Running') {
    const values = {
      state: 'Running',
      excluded: JSON.stringify(after.adoption.excluded),
      objects_total: null,
      objects_done: 0,
      bytes_done: 0,
      copy_mode: null,
      started_at: at,
      finished_at: null,
      error: null,
      lease_owner: null,
      lease_expires_at: null,
      updated_at: at,
    };
    await db
      .insertInto('job_adoptions')
      .values({ job_id: jobId, ...values })
      .onConflict((oc) => oc.column('job_id').doUpdateSet(values))
      .execute();
    return;
  }
  const finished = { state: after.adoption.state, finished_at: at, lease_owner: null, lease_expires_at: null, updated_at: at };
  const extra =
    action.kind === 'failAdoption'
      ? { error: action.reason }
      : action.kind === 'adopt'
        ? { objects_done: action.objects, bytes_done: action.bytes, copy_mode: action.serverSideCopy ? 'server-side' : 'streamed', error: null }
        : {};
  await db.updateTable('job_adoptions').set({ ...finished, ...extra }).where('job_id', '=', jobId).execute();
}

async function refuseTrackingNumberOfOtherJob(db: ServiceDatabase, jobId: string, trackingNumber: string): Promise<void> {
  const holder = await db.selectFrom('import_jobs').select('id').where('tracking_number_key', '=', trackingNumberKey(trackingNumber)).where('id', '!=', jobId).executeTakeFirst();
  if (holder !== undefined) throw trackingNumberInUse(trackingNumber);
}

function trackingNumberInUse(trackingNumber: string, cause?: unknown): TrackingNumberInUseError {
  return new TrackingNumberInUseError(
    `tracking number "${trackingNumber}" is already used by another import job (tracking numbers are compared ignoring case, spaces, hyphens and dots); check the number on the carrier's receipt`,
    cause === undefined ? undefined : { cause },
  );
}
