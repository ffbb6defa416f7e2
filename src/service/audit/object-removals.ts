import type { FastifyRequest } from 'fastify';
import type { ForbiddenError } from '../../core/errors.js';
import { principalOf } from '../api/route-access.js';
import { actorOf } from '../auth/principal.js';
import { isLockKey } from '../vault-objects/object-access-policy.js';
import { recordAudit } from './audit-log.js';

/**
 * The audit hook of `DELETE /v1/vaults/:vaultId/objects/<key>` (api/vault-objects.ts `onRemove`): records
 * an object a tenant-admin or admin removed from a vault, and a removal the access policy refused (an
 * agent reaching for a snapshot is what a stolen agent token looks like). Lock objects are left out: every
 * run of the CLI saves and removes its own, and they hold no data. An agent's successful removal is
 * always of its own lock, or of nothing (an absent object), so it records nothing either.
 */
export async function auditObjectRemoval(request: FastifyRequest, vaultId: string, key: string, refusal?: ForbiddenError): Promise<void> {
  if (isLockKey(key)) return;
  const principal = principalOf(request);
  if (refusal === undefined && principal.role === 'agent') return;
  const ctx = request.server.service;
  const vault = await ctx.db.selectFrom('vaults').select('tenant_id').where('id', '=', vaultId).executeTakeFirstOrThrow();
  await recordAudit(ctx, {
    actor: actorOf(principal),
    tenantId: vault.tenant_id,
    action: 'object.remove',
    target: { type: 'vault', id: vaultId },
    outcome: refusal === undefined ? 'ok' : 'refused',
    detail: { key, ...(refusal !== undefined ? { error: refusal.message } : {}) },
  });
}
