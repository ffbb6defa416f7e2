/** Reading the audit log (GET /v1/audit): newest first, in pages, as far as the caller may see. */
import { ForbiddenError, UserError } from '../../core/errors.js';
import type { Principal } from '../auth/principal.js';
import type { ServiceContext } from '../context.js';
import type { AuditRecordsTable } from '../db/schema.js';
import { isoTime } from '../ids.js';
import { getTenant } from '../resources/tenants.js';
import type { AuditAction, AuditOutcome, AuditTargetType } from '../../contract/audit-vocabulary.js';
import type { AuditDetail, AuditRecord } from './audit-log.js';

/** The most records one page holds, and how many when the caller names no limit. */
export const MAX_AUDIT_PAGE = 1000;
export const DEFAULT_AUDIT_PAGE = 100;

export interface AuditQuery {
  /** Only records at or after this time (ISO-8601). */
  readonly since?: string;
  readonly action?: AuditAction;
  /** Only this tenant's records; a tenant-admin's own tenant is implied. */
  readonly tenantId?: string;
  /** At most this many (1 … MAX_AUDIT_PAGE). */
  readonly limit?: number;
  /** `nextCursor` of the previous page: continue after its last record. */
  readonly cursor?: string;
}

export interface AuditPage {
  readonly records: AuditRecord[];
  /** Pass as `cursor` for the next (older) page; null when this page is the last. */
  readonly nextCursor: string | null;
}

/**
 * The records the principal may see, newest first: an admin every record (or one tenant's with
 * `tenantId`), a tenant-admin only its tenant's (`NotFoundError` for another `tenantId`, like every
 * tenant it cannot see); any other role `ForbiddenError`. A malformed cursor is a `UserError`. Records
 * added while paging appear on no page of that walk when newer than its first page: paging is stable.
 */
export async function listAuditRecords(ctx: ServiceContext, principal: Principal, query: AuditQuery = {}): Promise<AuditPage> {
  if (principal.role !== 'admin' && principal.role !== 'tenant-admin') throw new ForbiddenError(`a ${principal.role} token may not read the audit log`);
  if (query.tenantId !== undefined) await getTenant(ctx, principal, query.tenantId);
  const tenantId = principal.role === 'tenant-admin' ? (principal.tenantId ?? '') : query.tenantId;
  const limit = Math.min(Math.max(query.limit ?? DEFAULT_AUDIT_PAGE, 1), MAX_AUDIT_PAGE);
  const after = query.cursor !== undefined ? decodeCursor(query.cursor) : undefined;

  let select = ctx.db.selectFrom('audit_records').selectAll();
  if (tenantId !== undefined) select = select.where('tenant_id', '=', tenantId);
  if (query.action !== undefined) select = select.where('action', '=', query.action);
  if (query.since !== undefined) select = select.where('created_at', '>=', isoTime(Date.parse(query.since)));
  if (after !== undefined) {
    select = select.where((eb) => eb.or([eb('created_at', '<', after.at), eb.and([eb('created_at', '=', after.at), eb('id', '<', after.id)])]));
  }
  const rows = await select.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { records: page.map(toAuditRecord), nextCursor: rows.length > limit && last !== undefined ? encodeCursor(last) : null };
}

function encodeCursor(row: Pick<AuditRecordsTable, 'created_at' | 'id'>): string {
  return Buffer.from(JSON.stringify([row.created_at, row.id])).toString('base64url');
}

function decodeCursor(cursor: string): { at: string; id: string } {
  const invalid = new UserError('invalid cursor: pass the nextCursor of the previous page unchanged');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== 'string' || typeof value[1] !== 'string') throw invalid;
  return { at: value[0], id: value[1] };
}

function toAuditRecord(row: AuditRecordsTable): AuditRecord {
  return {
    id: row.id,
    at: row.created_at,
    actor: row.actor,
    tenantId: row.tenant_id,
    action: row.action as AuditAction,
    target: { type: row.target_type as AuditTargetType, id: row.target_id },
    outcome: row.outcome as AuditOutcome,
    detail: JSON.parse(row.detail) as AuditDetail,
  };
}
