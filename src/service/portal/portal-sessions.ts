/**
 * Portal sessions (docs/service.md, "Portal"): a person signs in with a token (or a one-time sign-in link
 * made with one) and the browser gets a session secret in a cookie. The database keeps the SHA-256 of the
 * secret and the token's id, never the token: each request is checked against the token as recorded
 * (revoked, expired, job ended), so what ends the token ends its sessions. A session lives at most
 * SESSION_LIFETIME_MS and never longer than its token. Sign-in, sign-out and a session found ended are
 * recorded in the audit log (portal-audit.ts); ended sessions and used or expired links are deleted by
 * {@link sweepEndedSessions}.
 */
import { timingSafeEqual } from 'node:crypto';
import { AuthenticationError, ForbiddenError } from '../../core/errors.js';
import { recordAudit } from '../audit/audit-log.js';
import type { Principal } from '../auth/principal.js';
import { hashSecret } from '../auth/secret-format.js';
import { principalForSecret, principalForTokenId } from '../auth/token-store.js';
import type { Role } from '../auth/roles.js';
import type { ServiceContext } from '../context.js';
import type { ServiceDatabase } from '../db/database.js';
import { isoTime } from '../ids.js';
import { sessionEnded, signedIn, signedOut, tokenFacts, type PortalRequestFacts, type SignInMethod, type TokenFacts } from './portal-audit.js';

/** How long a portal session lasts after sign-in (at most; never beyond its token's expiry). */
export const SESSION_LIFETIME_MS = 8 * 3_600_000;
/** How long a one-time sign-in link may wait to be used. */
export const SIGN_IN_LINK_LIFETIME_MS = 15 * 60_000;

/** The roles whose tokens open portal sessions; agent tokens belong to one machine and stay there. */
export const PORTAL_ROLES: readonly Role[] = ['admin', 'tenant-admin', 'operator', 'job'];

/** A session as a request sees it: who, and the token every form of it must send back. */
export interface PortalSession {
  readonly principal: Principal;
  readonly csrfToken: string;
  /** ISO-8601 UTC. */
  readonly expiresAt: string;
}

/** A new session: the cookie's secret (shown only here) and when it ends. */
export interface OpenedSession {
  readonly secret: string;
  readonly expiresAt: string;
}

/** A form came without its session's CSRF token (or with another one): 403. */
export class CsrfTokenError extends ForbiddenError {
  override readonly code = 'CSRF_TOKEN';
}

/** A token of a role the portal does not sign in (an agent's). */
export class PortalRoleError extends AuthenticationError {
  override readonly code = 'PORTAL_ROLE';
}

/**
 * Signs in with a bearer token: checks it like the API does (`AuthenticationError` and its kinds when it
 * is unknown, revoked, expired or its job ended; `PortalRoleError` for an agent token) and opens a
 * session, recorded in the audit log with the request's facts. A refusal is recorded by the caller, which
 * knows whether the throttle stepped in (see {@link signInCredentialToken}).
 */
export async function signInWithToken(ctx: ServiceContext, token: string, facts: PortalRequestFacts): Promise<OpenedSession> {
  return openSession(ctx, await principalForSecret(ctx, token), 'token', facts);
}

/**
 * Makes a one-time sign-in link for the principal's own token: the path `/sign-in/<code>`, usable once
 * within SIGN_IN_LINK_LIFETIME_MS. `PortalRoleError` for a role the portal does not sign in.
 */
export async function createSignInLink(ctx: ServiceContext, principal: Principal): Promise<{ path: string; expiresAt: string }> {
  requirePortalRole(principal);
  const code = ctx.random.bytes(32).toString('base64url');
  const now = ctx.clock.now();
  const expiresAt = isoTime(Math.min(now + SIGN_IN_LINK_LIFETIME_MS, Date.parse(principal.expiresAt)));
  await ctx.db.insertInto('portal_sign_in_links').values({ code_hash: hashSecret(code), token_id: principal.tokenId, created_at: isoTime(now), expires_at: expiresAt, used_at: null }).execute();
  return { path: `/sign-in/${code}`, expiresAt };
}

/**
 * Uses a sign-in link: opens a session with its token, once. `AuthenticationError` for an unknown, used
 * or expired code, or a token that no longer works.
 */
export async function signInWithLink(ctx: ServiceContext, code: string, facts: PortalRequestFacts): Promise<OpenedSession> {
  const now = isoTime(ctx.clock.now());
  // The update is the claim: of two requests with one code, only one changes the row.
  const claimed = await ctx.db
    .updateTable('portal_sign_in_links')
    .set({ used_at: now })
    .where('code_hash', '=', hashSecret(code))
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returning('token_id')
    .executeTakeFirst();
  if (claimed === undefined) throw new AuthenticationError('this sign-in link is unknown, used or expired: sign in with your token, or ask for a new link');
  return openSession(ctx, await principalForTokenId(ctx, claimed.token_id), 'link', facts);
}

/**
 * The token a refused sign-in's credential names, for its audit record: the token of that secret, or the
 * token a sign-in link was made for (used or expired ones too, until swept); undefined when it names none.
 */
export async function signInCredentialToken(db: ServiceDatabase, method: SignInMethod, secret: string): Promise<TokenFacts | undefined> {
  if (secret === '') return undefined;
  if (method === 'token') return tokenFacts(db, { hash: hashSecret(secret) });
  const link = await db.selectFrom('portal_sign_in_links').select('token_id').where('code_hash', '=', hashSecret(secret)).executeTakeFirst();
  return link === undefined ? undefined : tokenFacts(db, { id: link.token_id });
}

/**
 * The session of a cookie's secret, with its principal checked against its token now.
 * `AuthenticationError` when there is no such session, it expired, or its token no longer works (its
 * kind: `TokenRevokedError`, …). A session found ended is deleted, and the request that deleted it records
 * `portal.session-end` with the reason: of two requests finding it at once, one records.
 */
export async function sessionOf(ctx: ServiceContext, secret: string, facts: PortalRequestFacts): Promise<PortalSession> {
  const row = await ctx.db.selectFrom('portal_sessions').selectAll().where('id_hash', '=', hashSecret(secret)).executeTakeFirst();
  if (row === undefined) throw new AuthenticationError('your session ended: sign in again');
  if (row.expires_at <= isoTime(ctx.clock.now())) {
    await endFoundSession(ctx, row, 'SESSION_EXPIRED', facts);
    throw new AuthenticationError('your session ended: sign in again');
  }
  try {
    const principal = await principalForTokenId(ctx, row.token_id);
    return { principal, csrfToken: row.csrf_token, expiresAt: row.expires_at };
  } catch (err) {
    if (err instanceof AuthenticationError) await endFoundSession(ctx, row, err.code, facts);
    throw err;
  }
}

async function endFoundSession(ctx: ServiceContext, row: { id_hash: string; token_id: string }, reason: string, facts: PortalRequestFacts): Promise<void> {
  await ctx.db.transaction().execute(async (trx) => {
    const deleted = await trx.deleteFrom('portal_sessions').where('id_hash', '=', row.id_hash).executeTakeFirst();
    if (deleted.numDeletedRows === 0n) return;
    await recordAudit({ ...ctx, db: trx }, sessionEnded(row.token_id, await tokenFacts(trx, { id: row.token_id }), reason, facts));
  });
}

/**
 * Ends the session of a cookie's secret, `principal`'s (sign-out), recording `portal.sign-out`; nothing
 * happens (and nothing is recorded) when the session is already gone.
 */
export async function endSession(ctx: ServiceContext, secret: string, principal: Principal, facts: PortalRequestFacts): Promise<void> {
  await ctx.db.transaction().execute(async (trx) => {
    const deleted = await trx.deleteFrom('portal_sessions').where('id_hash', '=', hashSecret(secret)).executeTakeFirst();
    if (deleted.numDeletedRows > 0n) await recordAudit({ ...ctx, db: trx }, signedOut(principal, facts));
  });
}

/**
 * Deletes the sessions that ended by `now` and the sign-in links used or expired by then; answers how
 * many of each. Idempotent, and safe when several instances sweep one database at once (each row is
 * deleted by one of them). A session deleted here was not found ended by a request: no audit record.
 */
export async function sweepEndedSessions(db: ServiceDatabase, now: number): Promise<{ sessions: number; links: number }> {
  const at = isoTime(now);
  const sessions = await db.deleteFrom('portal_sessions').where('expires_at', '<=', at).executeTakeFirst();
  const links = await db.deleteFrom('portal_sign_in_links').where((eb) => eb.or([eb('expires_at', '<=', at), eb('used_at', 'is not', null)])).executeTakeFirst();
  return { sessions: Number(sessions.numDeletedRows), links: Number(links.numDeletedRows) };
}

/** Throws `CsrfTokenError` unless `sent` is the session's CSRF token (compared in constant time). */
export function checkCsrfToken(session: PortalSession, sent: unknown): void {
  const expected = Buffer.from(session.csrfToken);
  const given = Buffer.from(typeof sent === 'string' ? sent : '');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new CsrfTokenError('this form came without its security token (or an old one): reload the page and send it again');
  }
}

async function openSession(ctx: ServiceContext, principal: Principal, method: SignInMethod, facts: PortalRequestFacts): Promise<OpenedSession> {
  requirePortalRole(principal);
  const secret = ctx.random.bytes(32).toString('base64url');
  const now = ctx.clock.now();
  const expiresAt = isoTime(Math.min(now + SESSION_LIFETIME_MS, Date.parse(principal.expiresAt)));
  const row = { id_hash: hashSecret(secret), token_id: principal.tokenId, csrf_token: ctx.random.bytes(24).toString('base64url'), created_at: isoTime(now), expires_at: expiresAt };
  await ctx.db.transaction().execute(async (trx) => {
    await trx.insertInto('portal_sessions').values(row).execute();
    await recordAudit({ ...ctx, db: trx }, signedIn(principal, method, facts));
  });
  return { secret, expiresAt };
}

function requirePortalRole(principal: Principal): void {
  if (!PORTAL_ROLES.includes(principal.role)) {
    throw new PortalRoleError(`an ${principal.role} token does not sign in to the portal: use a tenant-admin, admin, operator or job token`);
  }
}
