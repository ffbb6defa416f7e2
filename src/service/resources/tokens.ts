import { ForbiddenError, NotFoundError, UserError } from '../../core/errors.js';
import { tokenCreated, tokenRevoked } from '../audit/audit-events.js';
import { recordAudit } from '../audit/audit-log.js';
import { actorOf, type Principal } from '../auth/principal.js';
import { canSeeTenant, visibleOrNotFound } from '../auth/scope.js';
import { DEFAULT_TOKEN_LIFETIME_MS, type CreatableRole } from '../auth/roles.js';
import {
  confirmTokenRenewal,
  getToken,
  issueToken,
  listTokens,
  renewAgentToken,
  revokeToken,
  type IssuedToken,
  type TokenListing,
} from '../auth/token-store.js';
import type { ServiceContext } from '../context.js';
import { getTenant } from './tenants.js';

export interface TokenRequest {
  readonly role: CreatableRole;
  /** Required for `tenant-admin`, refused for the others. */
  readonly tenantId?: string;
  readonly expiresInSeconds?: number;
}

/**
 * Creates a token for the principal. An admin creates any creatable role; a tenant-admin only tenant-admin
 * tokens of its own tenant (`ForbiddenError` otherwise; another tenant is `NotFoundError`), which never
 * outlive its own token (the default lifetime is cut to it; a longer `expiresInSeconds` is a `UserError`).
 * A tenant-admin token needs `tenantId`; admin and operator tokens take none (`UserError`).
 */
export async function createTokenAs(ctx: ServiceContext, principal: Principal, request: TokenRequest): Promise<IssuedToken> {
  if (request.role === 'tenant-admin') {
    if (request.tenantId === undefined) throw new UserError('a tenant-admin token needs a tenant');
    await getTenant(ctx, principal, request.tenantId);
  } else {
    if (request.tenantId !== undefined) throw new UserError(`an ${request.role} token belongs to no tenant; leave the tenant out`);
    if (principal.role !== 'admin') throw new ForbiddenError(`only an admin may create ${request.role} tokens`);
  }
  const spec = {
    role: request.role,
    ...(request.tenantId !== undefined ? { tenantId: request.tenantId } : {}),
    lifetimeMs: delegatedLifetime(ctx.clock.now(), principal, request),
    createdByTokenId: principal.tokenId,
  };
  return ctx.db.transaction().execute(async (trx) => {
    const issued = await issueToken({ ...ctx, db: trx }, spec);
    await recordAudit({ ...ctx, db: trx }, tokenCreated(actorOf(principal), issued));
    return issued;
  });
}

/**
 * Tokens the principal may manage, newest first, of every role, with their state (active, expired,
 * revoked) and names: all for an admin (admin, operator and every tenant's); for a tenant-admin its
 * tenant's tenant-admin tokens and the agent and job tokens of its machines and jobs.
 */
export async function listTokensAs(ctx: ServiceContext, principal: Principal): Promise<TokenListing[]> {
  if (principal.role === 'admin') return listTokens(ctx);
  return listTokens(ctx, { tenantId: principal.tenantId ?? '' });
}

/**
 * Revokes a token of any role that the principal may manage (see {@link listTokensAs}); any other id is
 * `NotFoundError`. Idempotent: only the call that revokes it records the revocation in the audit log. The
 * revoked token is refused from its next request on; an agent's says to register the machine again.
 */
export async function revokeTokenAs(ctx: ServiceContext, principal: Principal, tokenId: string): Promise<TokenListing> {
  const notFound = `token ${tokenId} not found`;
  const token = await getToken(ctx.db, tokenId).catch((err: unknown) => {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  });
  visibleOrNotFound(token, (t) => principal.role === 'admin' || (t.tenantId !== null && canSeeTenant(principal, t.tenantId)), notFound);
  await ctx.db.transaction().execute(async (trx) => {
    const before = await getToken(trx, tokenId);
    const revoked = await revokeToken({ ...ctx, db: trx }, tokenId);
    if (before.revokedAt === null) await recordAudit({ ...ctx, db: trx }, tokenRevoked(actorOf(principal), revoked));
  });
  const [listed] = await listTokens(ctx, { id: tokenId });
  return listed!;
}

/**
 * An agent token's renewal, first step: a new token for the same machine and vault, living the service's
 * agent token lifetime; the presented token works until the renewal is confirmed ({@link confirmRenewalAs}).
 * The new token is in the audit log (`token.create` with the token it renews).
 */
export async function renewTokenAs(ctx: ServiceContext, principal: Principal): Promise<IssuedToken> {
  const issued = await renewAgentToken(ctx, principal, ctx.agentTokenLifetimeMs);
  await recordAudit(ctx, tokenCreated(actorOf(principal), issued, { renews: principal.tokenId }));
  return issued;
}

/**
 * An agent token's renewal, second step, with the new token once the agent stored it: revokes the token
 * it replaces (decided from what the service recorded at the renewal). Idempotent. Returns the ids revoked,
 * each of which is in the audit log.
 */
export async function confirmRenewalAs(ctx: ServiceContext, principal: Principal): Promise<{ revokedTokenIds: string[] }> {
  const revokedTokenIds = await confirmTokenRenewal(ctx, principal);
  for (const id of revokedTokenIds) await recordAudit(ctx, tokenRevoked(actorOf(principal), await getToken(ctx.db, id)));
  return { revokedTokenIds };
}

/** The new token's lifetime: as asked or the role's default, and for a non-admin creator at most its own remaining life. */
function delegatedLifetime(now: number, principal: Principal, request: TokenRequest): number {
  const asked = request.expiresInSeconds !== undefined ? request.expiresInSeconds * 1000 : undefined;
  const lifetime = asked ?? DEFAULT_TOKEN_LIFETIME_MS[request.role];
  if (principal.role === 'admin') return lifetime;
  const remaining = Date.parse(principal.expiresAt) - now;
  if (lifetime <= remaining) return lifetime;
  if (asked !== undefined) throw new UserError(`a token you create cannot outlive your own, which expires at ${principal.expiresAt}`);
  return remaining;
}
