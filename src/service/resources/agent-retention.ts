import { parseId } from '../../core/ids.js';
import { applyPolicy, type RetentionCandidate } from '../../engine/retention/policy.js';
import type { RetentionFacts } from '../../engine/retention/grouping.js';
import { objectKey } from '../../storage/layout.js';
import { auditFailure, recordAudit } from '../audit/audit-log.js';
import { actorOf, type Principal } from '../auth/principal.js';
import type { ServiceContext } from '../context.js';
import { isoTime } from '../ids.js';
import { agentMachine, agentScheduleOf } from './agent-schedules.js';
import { forgetSnapshotArrival } from './snapshot-provenance.js';
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
 * Applies the machine's retention policy to the snapshots of its scheduled runs, judged from what the
 * service recorded itself (it cannot read sealed snapshots, and a report is only the agent's word):
 * candidates are the snapshots this machine's agent stored in the vault (snapshot-provenance.ts) that a
 * scheduled run of this machine reported, each dated by when the service received it, never by the
 * reported start. A snapshot received less than AGENT_RETENTION_FLOOR_MS ago by the service's clock is
 * never removed; manual runs' snapshots, other machines', tenant-admins', admins' and those adopted from an
 * import job are never candidates. Removes the snapshot objects it drops from the vault (the data stays
 * until a tenant-admin prunes).
 * The runs are marked, the provenance dropped and the act recorded in the audit log with the snapshot ids
 * together, once every removal is done; a removal that fails is recorded as `failed` with what was and was
 * not removed. Idempotent: a pass that was cut short is repeated whole by the next call. Returns what it
 * decided; nothing when the schedule has no retention.
 */
export async function applyAgentRetention(ctx: ServiceContext, principal: Principal, vaultId: string): Promise<RetentionOutcome> {
  const vault = await getVault(ctx, principal, vaultId);
  const machineId = agentMachine(principal);
  const schedule = await agentScheduleOf(ctx, machineId);
  const rows = await ctx.db
    .selectFrom('backup_runs as r')
    .innerJoin('vault_snapshots as s', (join) => join.onRef('s.vault_id', '=', 'r.vault_id').onRef('s.snapshot_id', '=', 'r.snapshot_id'))
    .select(['s.snapshot_id', 's.received_at'])
    .where('r.vault_id', '=', vault.id)
    .where('r.machine_id', '=', machineId)
    .where('r.trigger', '=', 'scheduled')
    .where('r.status', '!=', 'failed')
    .where('r.forgotten_at', 'is', null)
    .where('s.source', '=', 'agent')
    .where('s.machine_id', '=', machineId)
    .execute();
  const candidates = new Map<string, RetentionCandidate<RetentionFacts>>();
  for (const row of rows) {
    const id = parseId(row.snapshot_id);
    candidates.set(id, { id, snapshot: { time: row.received_at, hostname: machineId, paths: [], tags: [] } });
  }
  if (!schedule?.retention) return { kept: [...candidates.keys()], forgotten: [], protected: [] };

  const now = ctx.clock.now();
  const result = applyPolicy([...candidates.values()], { ...schedule.retention, groupBy: [] }, new Date(now));
  const tooYoung = (receivedAt: string): boolean => now - Date.parse(receivedAt) < AGENT_RETENTION_FLOOR_MS;
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
      await trx.updateTable('backup_runs').set({ forgotten_at: isoTime(now) }).where('vault_id', '=', vault.id).where('machine_id', '=', machineId).where('snapshot_id', 'in', doomed).execute();
      for (const id of doomed) await forgetSnapshotArrival(trx, vault.id, id);
      await recordAudit({ ...ctx, db: trx }, { ...audit, detail: { machineId, snapshotIds: doomed } });
    });
  }
  return { kept: result.keep.map((d) => d.id), forgotten: doomed, protected: guarded };
}
