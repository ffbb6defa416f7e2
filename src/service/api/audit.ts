import { z } from 'zod';
import { AUDIT_ACTIONS, AUDIT_OUTCOMES, AUDIT_TARGET_TYPES } from '../../contract/audit-vocabulary.js';
import { DEFAULT_AUDIT_PAGE, MAX_AUDIT_PAGE, listAuditRecords } from '../audit/audit-query.js';
import type { ServiceContext } from '../context.js';
import type { ApiApp } from './api-app.js';
import { principalOf } from './route-access.js';
import { RecordId, Timestamp } from './schemas.js';

const AuditRecord = z.object({
  id: RecordId,
  at: Timestamp,
  actor: z.string(),
  tenantId: RecordId.nullable(),
  action: z.enum(AUDIT_ACTIONS),
  target: z.object({ type: z.enum(AUDIT_TARGET_TYPES), id: z.string().nullable() }),
  outcome: z.enum(AUDIT_OUTCOMES),
  detail: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.string())])),
});

const AuditQuery = z.strictObject({
  since: Timestamp.optional(),
  action: z.enum(AUDIT_ACTIONS).optional(),
  tenantId: RecordId.optional(),
  limit: z.coerce.number().int().min(1).max(MAX_AUDIT_PAGE).default(DEFAULT_AUDIT_PAGE),
  cursor: z.string().max(512).optional(),
});

/** GET /v1/audit: the audit log, newest first, in pages (admins: everything; tenant-admins: their tenant's). */
export function registerAuditRoutes(app: ApiApp, ctx: ServiceContext): void {
  app.route({
    method: 'GET',
    url: '/v1/audit',
    config: { access: ['admin', 'tenant-admin'], summary: "List privileged acts, newest first (a tenant-admin: its tenant's)" },
    schema: { querystring: AuditQuery, response: { 200: z.object({ records: z.array(AuditRecord), nextCursor: z.string().nullable() }) } },
    handler: async (request) => listAuditRecords(ctx, principalOf(request), request.query),
  });
}
