import { ForbiddenError, UserError } from '../../core/errors.js';
import type { Principal } from '../auth/principal.js';
import type { ServiceContext } from '../context.js';
import type { BackupRunsTable } from '../db/schema.js';
import { isoTime, newRecordId } from '../ids.js';
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
 * Records a run reported by an agent token for its own vault and machine. `NotFoundError` when the vault
 * is not the token's, `ForbiddenError` when the principal is not an agent, `UserError` when the times or
 * counts contradict each other. Also marks the machine's last report time.
 */
export async function reportBackupRun(ctx: ServiceContext, principal: Principal, vaultId: string, report: BackupRunReport): Promise<BackupRun> {
  const vault = await getVault(ctx, principal, vaultId);
  if (principal.role !== 'agent' || principal.machineId === undefined) throw new ForbiddenError('only an agent token reports backup runs');
  if (Date.parse(report.finishedAt) < Date.parse(report.startedAt)) throw new UserError('finishedAt is before startedAt');
  if (report.errors.length > report.errorCount) throw new UserError('errorCount is smaller than the number of errors listed');
  const now = isoTime(ctx.clock.now());
  const row: BackupRunsTable = {
    id: newRecordId(ctx.random),
    tenant_id: vault.tenantId,
    vault_id: vault.id,
    machine_id: principal.machineId,
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
  await ctx.db.transaction().execute(async (trx) => {
    await trx.insertInto('backup_runs').values(row).execute();
    await trx.updateTable('machines').set({ last_report_at: now }).where('id', '=', principal.machineId!).execute();
  });
  return toBackupRun(row);
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
