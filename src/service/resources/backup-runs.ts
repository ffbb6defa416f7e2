import { AlreadyExistsError, ForbiddenError, UserError } from '../../core/errors.js';
import type { Principal } from '../auth/principal.js';
import type { ServiceContext } from '../context.js';
import { isUniqueViolation } from '../db/constraint-errors.js';
import type { ServiceDatabase } from '../db/database.js';
import type { BackupRunsTable } from '../db/schema.js';
import { isoTime, newRecordId } from '../ids.js';
import { snapshotProvenance, type SnapshotProvenance } from './snapshot-provenance.js';
import { getVault } from './vaults.js';

/** How a backup run ended: `partial` is the CLI's exit 3 (finished, some source files unreadable). */
export const BACKUP_RUN_STATUSES = ['succeeded', 'partial', 'failed'] as const;
export type BackupRunStatus = (typeof BACKUP_RUN_STATUSES)[number];

/** What started a run: the agent's schedule (its retention policy then applies to the snapshot) or a person. */
export const BACKUP_RUN_TRIGGERS = ['scheduled', 'manual'] as const;
export type BackupRunTrigger = (typeof BACKUP_RUN_TRIGGERS)[number];

/** At most this many error messages are kept per run, each at most MAX_ERROR_LENGTH characters. */
export const MAX_REPORTED_ERRORS = 20;
export const MAX_ERROR_LENGTH = 500;

/** How far ahead of the service's clock a reported time may be (the agent's clock may run a little fast). */
export const RUN_CLOCK_SKEW_MS = 5 * 60 * 1000;

/** A run report with a value that cannot be true (400): the message says which and why. */
export class RunReportRefusedError extends UserError {
  override readonly code = 'RUN_REPORT_REFUSED';
}

/** What an agent reports after every backup run. */
export interface BackupRunReport {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly status: BackupRunStatus;
  readonly snapshotId: string | null;
  readonly filesProcessed: number;
  readonly bytesRead: number;
  readonly bytesAdded: number;
  /** The total number of errors; `errors` holds the first ones only. */
  readonly errorCount: number;
  readonly errors: string[];
  readonly trigger: BackupRunTrigger;
}

/** A recorded run, as listed for tenant-admins. */
export interface BackupRun extends BackupRunReport {
  readonly id: string;
  readonly vaultId: string;
  readonly machineId: string;
  readonly recordedAt: string;
  /** When the machine's retention policy removed the snapshot, or null. */
  readonly forgottenAt: string | null;
}

/**
 * Records a run reported by an agent token for its own vault and machine. The report is the agent's word,
 * so it is checked against what the service knows for itself: `RunReportRefusedError` (400) for times in
 * the future (beyond RUN_CLOCK_SKEW_MS) or before the machine registered, negative counts, times or counts
 * that contradict each other, and a snapshot the service did not receive from this machine (never stored,
 * removed, or stored by another machine, a tenant-admin, an admin or an import's adoption);
 * `AlreadyExistsError` (409) when a run naming the snapshot is already recorded (one run per snapshot, so a
 * manual run cannot later be reported as scheduled). `NotFoundError` when the vault is not the token's,
 * `ForbiddenError` when the principal is not an agent. Also marks the machine's last report time.
 */
export async function reportBackupRun(ctx: ServiceContext, principal: Principal, vaultId: string, report: BackupRunReport): Promise<BackupRun> {
  const vault = await getVault(ctx, principal, vaultId);
  if (principal.role !== 'agent' || principal.machineId === undefined) throw new ForbiddenError('only an agent token reports backup runs');
  const machineId = principal.machineId;
  const machine = await ctx.db.selectFrom('machines').select('created_at').where('id', '=', machineId).executeTakeFirstOrThrow();
  const nowMs = ctx.clock.now();
  refuseImpossible(report, nowMs, machine.created_at);
  const now = isoTime(nowMs);
  const row: BackupRunsTable = {
    id: newRecordId(ctx.random),
    tenant_id: vault.tenantId,
    vault_id: vault.id,
    machine_id: machineId,
    started_at: new Date(report.startedAt).toISOString(),
    finished_at: new Date(report.finishedAt).toISOString(),
    status: report.status,
    snapshot_id: report.snapshotId,
    files_processed: report.filesProcessed,
    bytes_read: report.bytesRead,
    bytes_added: report.bytesAdded,
    error_count: report.errorCount,
    errors: JSON.stringify(report.errors),
    trigger: report.trigger,
    forgotten_at: null,
    created_at: now,
  };
  const { snapshotId } = report;
  try {
    await ctx.db.transaction().execute(async (trx) => {
      if (snapshotId !== null) {
        refuseForeignSnapshot(snapshotId, machineId, await snapshotProvenance(trx, vault.id, snapshotId));
        await refuseReportedSnapshot(trx, vault.id, snapshotId);
      }
      await trx.insertInto('backup_runs').values(row).execute();
      await trx.updateTable('machines').set({ last_report_at: now }).where('id', '=', machineId).execute();
    });
  } catch (err) {
    // Two reports of one snapshot at once (two instances, or two connections of one on PostgreSQL) both pass
    // the check above; the unique index on (vault_id, snapshot_id) lets only the first insert through.
    if (snapshotId !== null && isUniqueViolation(err)) {
      await refuseReportedSnapshot(ctx.db, vault.id, snapshotId, err);
    }
    throw err;
  }
  return toBackupRun(row);
}

/** `AlreadyExistsError` (409) naming the earlier run when a run of the snapshot is recorded (one run per snapshot). */
async function refuseReportedSnapshot(db: ServiceDatabase, vaultId: string, snapshotId: string, cause?: unknown): Promise<void> {
  const earlier = await db.selectFrom('backup_runs').select('id').where('vault_id', '=', vaultId).where('snapshot_id', '=', snapshotId).executeTakeFirst();
  if (earlier !== undefined) {
    throw new AlreadyExistsError(`snapshot ${snapshotId} was already reported, by run ${earlier.id}; a snapshot belongs to one run`, cause === undefined ? {} : { cause });
  }
}

/** Refuses what no real run can report, judged by the service's clock and records. */
function refuseImpossible(report: BackupRunReport, now: number, registeredAt: string): void {
  const started = Date.parse(report.startedAt);
  const finished = Date.parse(report.finishedAt);
  const counts = { filesProcessed: report.filesProcessed, bytesRead: report.bytesRead, bytesAdded: report.bytesAdded, errorCount: report.errorCount };
  for (const [name, value] of Object.entries(counts)) {
    if (!Number.isSafeInteger(value) || value < 0) throw new RunReportRefusedError(`${name} must be a whole number of 0 or more, not ${value}`);
  }
  if (!Number.isFinite(started) || !Number.isFinite(finished)) throw new RunReportRefusedError('startedAt and finishedAt must be times');
  if (finished < started) throw new RunReportRefusedError('finishedAt is before startedAt');
  const latest = now + RUN_CLOCK_SKEW_MS;
  if (finished > latest) {
    throw new RunReportRefusedError(`finishedAt ${report.finishedAt} is in the future (the service's time is ${isoTime(now)}); check the machine's clock`);
  }
  if (started < Date.parse(registeredAt) - RUN_CLOCK_SKEW_MS) {
    throw new RunReportRefusedError(`startedAt ${report.startedAt} is before the machine registered (${registeredAt})`);
  }
  if (report.errors.length > report.errorCount) throw new RunReportRefusedError('errorCount is smaller than the number of errors listed');
}

/** Refuses a snapshot this machine did not store in the vault, by the service's own record of it. */
function refuseForeignSnapshot(snapshotId: string, machineId: string, provenance: SnapshotProvenance | undefined): void {
  if (provenance === undefined) {
    throw new RunReportRefusedError(`the service never received snapshot ${snapshotId} in this vault (or it was removed); a run reports the snapshot its backup stored`);
  }
  if (provenance.source === 'agent' && provenance.machineId === machineId) return;
  const writer =
    provenance.source === 'agent' ? 'another machine' : provenance.source === 'import' ? `the adoption of import job ${provenance.jobId}` : `a ${provenance.source} token`;
  throw new RunReportRefusedError(`snapshot ${snapshotId} was stored by ${writer}, not by this machine; a run reports only a snapshot its own machine stored`);
}

/** The vault's runs, newest start first, at most `limit`; `NotFoundError` when the principal may not see the vault. */
export async function listBackupRuns(ctx: ServiceContext, principal: Principal, vaultId: string, limit: number): Promise<BackupRun[]> {
  const vault = await getVault(ctx, principal, vaultId);
  const rows = await ctx.db
    .selectFrom('backup_runs')
    .selectAll()
    .where('vault_id', '=', vault.id)
    .orderBy('started_at', 'desc')
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map(toBackupRun);
}

function toBackupRun(row: BackupRunsTable): BackupRun {
  return {
    id: row.id,
    vaultId: row.vault_id,
    machineId: row.machine_id,
    recordedAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    status: row.status as BackupRunStatus,
    snapshotId: row.snapshot_id,
    filesProcessed: Number(row.files_processed),
    bytesRead: Number(row.bytes_read),
    bytesAdded: Number(row.bytes_added),
    errorCount: Number(row.error_count),
    errors: JSON.parse(row.errors) as string[],
    trigger: row.trigger as BackupRunTrigger,
    forgottenAt: row.forgotten_at,
  };
}
