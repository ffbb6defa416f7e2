import type { Principal } from '../auth/principal.js';
import type { ServiceContext } from '../context.js';
import type { AgentSchedule } from './agent-schedules.js';
import { getVault } from './vaults.js';

/** A computer registered to back up to one vault. */
export interface Machine {
  readonly id: string;
  readonly vaultId: string;
  readonly hostname: string;
  readonly registeredAt: string;
  /** When it last reported a backup run, or null. */
  readonly lastReportAt: string | null;
  /** The schedule its agent set, or null. */
  readonly schedule: AgentSchedule | null;
}

/** The vault's machines, oldest registration first; `NotFoundError` when the principal may not see the vault. */
export async function listMachines(ctx: ServiceContext, principal: Principal, vaultId: string): Promise<Machine[]> {
  const vault = await getVault(ctx, principal, vaultId);
  const rows = await ctx.db.selectFrom('machines').selectAll().where('vault_id', '=', vault.id).orderBy('created_at').orderBy('id').execute();
  return rows.map((r) => ({
    id: r.id,
    vaultId: r.vault_id,
    hostname: r.hostname,
    registeredAt: r.created_at,
    lastReportAt: r.last_report_at,
    schedule: r.schedule ? (JSON.parse(r.schedule) as AgentSchedule) : null,
  }));
}
