import { parseId } from '../../core/ids.js';
import { applyPolicy, type RetentionCandidate } from '../../engine/retention/policy.js';
import type { RetentionFacts } from '../../engine/retention/grouping.js';
import { objectKey } from '../../storage/layout.js';
import { auditFailure, recordAudit } from '../audit/audit-log.js';
import { actorOf, type Principal } from '../auth/principal.js';
import type { ServiceContext } from '../context.js';
import { isoTime } from '../ids.js';
import { agentMachine, agentScheduleOf } from './agent-schedules.js';
import { getVault } from './vaults.js';
import { openVaultStorage } from './vault-storage.js';

/**
 * Snapshots younger than this are never removed by an agent's policy, whatever it says: an attacker on the
 * source machine can shorten the policy, but cannot make it erase the last week of backups.
 */
export const AGENT_RETENTION_FLOOR_MS = 7 * 24 * 60 * 60 * 1000;

export interface RetentionOutcome {
  /** Snapshot ids the policy keeps. */
  readonly kept: string[];
  /** Snapshot ids removed now. */
  readonly forgotten: string[];
  /** Snapshot ids the policy would remove but the floor keeps. */
  readonly protected: string[];
}

/**
 * Applies the machine's retention policy to the snapshots of its scheduled runs. The service judges from
 * what agents reported (snapshot id and start time of each run; it cannot read the sealed snapshots) and
 * removes the snapshot objects it drops from the vault; the data stays until a tenant-admin prunes.
 * Manual runs and other machines' snapshots are never touched. Idempotent: a removal that was cut short
 * is finished by the next call. The runs are marked forgotten, and the act recorded in the audit log with
 * the snapshot ids, once every removal is done; a removal that fails is recorded as `failed` with what was
 * and was not removed. Returns what it decided; nothing when the schedule has no retention.
 */
export async function applyAgentRetention(ctx: ServiceContext, principal: Principal, vaultId: string): Promise<RetentionOutcome> {
  const vault = await getVault(ctx, principal, vaultId);
  const machineId = agentMachine(principal);
  const schedule = await agentScheduleOf(ctx, machineId);
  const runs = await ctx.db
    .selectFrom('backup_runs')
    .select(['snapshot_id', 'started_at'])
    .where('machine_id', '=', machineId)
    .where('trigger', '=', 'scheduled')
    .where('status', '!=', 'failed')
    .where('snapshot_id', 'is not', null)
    .where('forgotten_at', 'is', null)
    .execute();
  const candidates = new Map<string, RetentionCandidate<RetentionFacts>>();
  for (const run of runs) {
    const id = parseId(run.snapshot_id!);
    candidates.set(id, { id, snapshot: { time: run.started_at, hostname: machineId, paths: [], tags: [] } });
  }
  if (!schedule?.retention) return { kept: [...candidates.keys()], forgotten: [], protected: [] };

  const now = ctx.clock.now();
  const result = applyPolicy([...candidates.values()], { ...schedule.retention, groupBy: [] }, new Date(now));
  const tooYoung = (time: string): boolean => now - Date.parse(time) < AGENT_RETENTION_FLOOR_MS;
  const guarded = result.remove.filter((d) => tooYoung(d.snapshot.time)).map((d) => d.id);
  const doomed = result.remove.filter((d) => !tooYoung(d.snapshot.time)).map((d) => d.id);
  if (doomed.length > 0) {
    const audit = { actor: actorOf(principal), tenantId: vault.tenantId, action: 'retention.forget', target: { type: 'vault', id: vault.id } } as const;
    const removed: string[] = [];
    const storage = await openVaultStorage(ctx, vault);
    try {
      for (const id of doomed) {
        await storage.remove(objectKey('snapshot', id));
        removed.push(id);
      }
    } catch (err) {
      await auditFailure(ctx, { ...audit, detail: { machineId, snapshotIds: removed, notRemoved: doomed.filter((id) => !removed.includes(id)) } })(err);
    } finally {
      await storage.close();
    }
    // The runs are marked and the act recorded together, after every removal: a pass cut short is repeated whole.
    await ctx.db.transaction().execute(async (trx) => {
      await trx.updateTable('backup_runs').set({ forgotten_at: isoTime(now) }).where('machine_id', '=', machineId).where('snapshot_id', 'in', doomed).execute();
      await recordAudit({ ...ctx, db: trx }, { ...audit, detail: { machineId, snapshotIds: doomed } });
    });
  }
  return { kept: result.keep.map((d) => d.id), forgotten: doomed, protected: guarded };
}
