import { recordAudit } from '../audit/audit-log.js';
import { actorOf, type Principal } from '../auth/principal.js';
import { canSeeTenant, visibleOrNotFound } from '../auth/scope.js';
import type { ServiceContext } from '../context.js';
import { insertOrExplain } from '../db/constraint-errors.js';
import type { TenantsTable } from '../db/schema.js';
import { isoTime, newRecordId } from '../ids.js';

/** An organization using the service (glossary: tenant). */
export interface Tenant {
  readonly id: string;
  readonly name: string;
  readonly createdAt: string;
}

/** Creates a tenant; `AlreadyExistsError` when the name is taken, ignoring case. Only admins reach this (route access). */
export async function createTenant(ctx: ServiceContext, principal: Principal, name: string): Promise<Tenant> {
  const row: TenantsTable = { id: newRecordId(ctx.random), name, created_at: isoTime(ctx.clock.now()) };
  const audit = { actor: actorOf(principal), tenantId: row.id, action: 'tenant.create', target: { type: 'tenant', id: row.id }, detail: { name } } as const;
  await insertOrExplain(() => ctx.db.transaction().execute(async (trx) => {
    await trx.insertInto('tenants').values(row).execute();
    await recordAudit({ ...ctx, db: trx }, audit);
  }), `a tenant named "${name}" already exists (tenant names are compared ignoring case)`);
  return toTenant(row);
}

/** The tenants the principal may see, by name: all for an admin, its own for a tenant-admin. */
export async function listTenants(ctx: ServiceContext, principal: Principal): Promise<Tenant[]> {
  let query = ctx.db.selectFrom('tenants').selectAll();
  if (principal.role !== 'admin') query = query.where('id', '=', principal.tenantId ?? '');
  return (await query.orderBy('name').execute()).map(toTenant);
}

/** The tenant, or `NotFoundError` when it does not exist or the principal may not see it. */
export async function getTenant(ctx: ServiceContext, principal: Principal, tenantId: string): Promise<Tenant> {
  const row = await ctx.db.selectFrom('tenants').selectAll().where('id', '=', tenantId).executeTakeFirst();
  return toTenant(visibleOrNotFound(row, (r) => canSeeTenant(principal, r.id), `tenant ${tenantId} not found`));
}

function toTenant(row: TenantsTable): Tenant {
  return { id: row.id, name: row.name, createdAt: row.created_at };
}
