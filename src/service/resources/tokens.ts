import { ForbiddenError, NotFoundError, UserError } from '../../core/errors.js';
import { tokenCreated, tokenRevoked } from '../audit/audit-events.js';
import { recordAudit } from '../audit/audit-log.js';
import { actorOf, type Principal } from '../auth/principal.js';
import { canSeeTenant, visibleOrNotFound } from '../auth/scope.js';
import { DEFAULT_TOKEN_LIFETIME_MS } from '../auth/roles.js';
import { getToken, issueToken, listTokens, revokeToken, type IssuedToken, type TokenRecord } from '../auth/token-store.js';
import type { ServiceContext } from '../context.js';
import { getTenant } from './tenants.js';

/** The roles `POST /v1/tokens` creates; agent tokens come from registration and job tokens with import jobs. */
export const CREATABLE_ROLES = ['admin', 'tenant-admin', 'operator'] as const;
export type CreatableRole = (typeof CREATABLE_ROLES)[number];

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

/** Tokens the principal may manage, newest first: all for an admin, its tenant's (tenant-admin and agent) for a tenant-admin. */
export async function listTokensAs(ctx: ServiceContext, principal: Principal): Promise<TokenRecord[]> {
  if (principal.role === 'admin') return listTokens(ctx.db);
  return listTokens(ctx.db, { tenantId: principal.tenantId ?? '' });
}

/**
 * Revokes a token the principal may manage (see {@link listTokensAs}); any other id is `NotFoundError`.
 * Idempotent: only the call that revokes it records the revocation in the audit log.
 */
export async function revokeTokenAs(ctx: ServiceContext, principal: Principal, tokenId: string): Promise<TokenRecord> {
  const notFound = `token ${tokenId} not found`;
  const token = await getToken(ctx.db, tokenId).catch((err: unknown) => {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  });
  visibleOrNotFound(token, (t) => principal.role === 'admin' || (t.tenantId !== null && canSeeTenant(principal, t.tenantId)), notFound);
  return ctx.db.transaction().execute(async (trx) => {
    const before = await getToken(trx, tokenId);
    const revoked = await revokeToken({ ...ctx, db: trx }, tokenId);
    if (before.revokedAt === null) await recordAudit({ ...ctx, db: trx }, tokenRevoked(actorOf(principal), revoked));
    return revoked;
  });
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
