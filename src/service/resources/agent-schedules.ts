import { ForbiddenError } from '../../core/errors.js';
import type { RetentionRules } from '../../engine/retention/policy.js';
import { recordAudit } from '../audit/audit-log.js';
import { actorOf, type Principal } from '../auth/principal.js';
import type { ServiceContext } from '../context.js';
import { isoTime } from '../ids.js';
import { getVault } from './vaults.js';

/** A machine's schedule as its agent set it. The source paths stay on the machine: the service never sees them. */
export interface AgentSchedule {
  /** `HH:MM` in the machine's local time. */
  readonly daily: string;
  /** Applied to the machine's scheduled snapshots after each scheduled run; null keeps everything. */
  readonly retention: RetentionRules | null;
  readonly updatedAt: string;
}

/** Sets the schedule of the agent token's own machine (of its own vault). */
export async function setAgentSchedule(
  ctx: ServiceContext,
  principal: Principal,
  vaultId: string,
  schedule: Omit<AgentSchedule, 'updatedAt'>,
): Promise<AgentSchedule> {
  const vault = await getVault(ctx, principal, vaultId);
  const machineId = agentMachine(principal);
  const stored: AgentSchedule = { ...schedule, updatedAt: isoTime(ctx.clock.now()) };
  const audit = { actor: actorOf(principal), tenantId: vault.tenantId, action: 'schedule.set', target: { type: 'machine', id: machineId }, detail: { vaultId, daily: stored.daily, retention: JSON.stringify(stored.retention) } } as const;
  await ctx.db.transaction().execute(async (trx) => {
    await trx.updateTable('machines').set({ schedule: JSON.stringify(stored) }).where('id', '=', machineId).execute();
    await recordAudit({ ...ctx, db: trx }, audit);
  });
  return stored;
}

/** The stored schedule of a machine, or null. */
export async function agentScheduleOf(ctx: ServiceContext, machineId: string): Promise<AgentSchedule | null> {
  const row = await ctx.db.selectFrom('machines').select('schedule').where('id', '=', machineId).executeTakeFirst();
  return row?.schedule ? (JSON.parse(row.schedule) as AgentSchedule) : null;
}

/** The machine of an agent token; `ForbiddenError` for any other role. */
export function agentMachine(principal: Principal): string {
  if (principal.role !== 'agent' || principal.machineId === undefined) throw new ForbiddenError('only an agent token acts for its machine');
  return principal.machineId;
}
