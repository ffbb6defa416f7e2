/**
 * The portal's audit records (docs/service.md, "Audit log"): sign-in (with a token or a one-time link;
 * `ok`, or `refused` with the reason), sign-out, and a session ended by its expiry or by its token
 * (revoked, expired, job ended) where a request finds it so. Each names the token (target), its tenant and
 * the browser's address (`detail.remoteAddress`); never a secret.
 */
import type { AuditEvent } from '../audit/audit-log.js';
import { actorOf, type Principal } from '../auth/principal.js';
import type { ServiceDatabase } from '../db/database.js';

/** How a person signed in: a token pasted into the form, or a one-time link. */
export type SignInMethod = 'token' | 'link';

/** A request's facts the records keep. */
export interface PortalRequestFacts {
  /** The client's address as the service sees it (fastify `request.ip`). */
  readonly remoteAddress: string;
}

/** The token a record is about, as far as it is known (an unknown credential names none). */
export interface TokenFacts {
  readonly id: string;
  readonly role: string;
  readonly tenantId: string | null;
}

/** The actor of a refused sign-in whose credential names no token. */
export const UNKNOWN_ACTOR = 'anonymous';
/** The actor of a session the service found ended. */
export const SESSION_ACTOR = 'service:portal-sessions';

/** The token of a row of `tokens` (or undefined): what {@link signInRefused} and {@link sessionEnded} name. */
export async function tokenFacts(db: ServiceDatabase, where: { readonly id: string } | { readonly hash: string }): Promise<TokenFacts | undefined> {
  const select = db.selectFrom('tokens').select(['id', 'role', 'tenant_id']);
  const row = await ('id' in where ? select.where('id', '=', where.id) : select.where('token_hash', '=', where.hash)).executeTakeFirst();
  return row === undefined ? undefined : { id: row.id, role: row.role, tenantId: row.tenant_id };
}

/** A session was opened for `principal`'s token. */
export function signedIn(principal: Principal, method: SignInMethod, facts: PortalRequestFacts): AuditEvent {
  return {
    actor: actorOf(principal),
    tenantId: principal.tenantId ?? null,
    action: 'portal.sign-in',
    target: { type: 'token', id: principal.tokenId },
    detail: { method, role: principal.role, remoteAddress: facts.remoteAddress },
  };
}

/**
 * A sign-in was refused: `reason` is the refusal's code (`UNAUTHENTICATED`, `TOKEN_REVOKED`,
 * `PORTAL_ROLE`, …) or `THROTTLED` when the throttle answered 429; `token` is the token the credential
 * named, when it named one.
 */
export function signInRefused(token: TokenFacts | undefined, method: SignInMethod, reason: string, error: string, facts: PortalRequestFacts): AuditEvent {
  return {
    actor: token === undefined ? UNKNOWN_ACTOR : `${token.role}:${token.id}`,
    tenantId: token?.tenantId ?? null,
    action: 'portal.sign-in',
    target: { type: 'token', id: token?.id ?? null },
    outcome: 'refused',
    detail: { method, reason, error, remoteAddress: facts.remoteAddress },
  };
}

/** The session of `principal`'s token was ended by its person. */
export function signedOut(principal: Principal, facts: PortalRequestFacts): AuditEvent {
  return {
    actor: actorOf(principal),
    tenantId: principal.tenantId ?? null,
    action: 'portal.sign-out',
    target: { type: 'token', id: principal.tokenId },
    detail: { role: principal.role, remoteAddress: facts.remoteAddress },
  };
}

/**
 * A request found its session ended: `SESSION_EXPIRED` (the session's own lifetime), or the code of the
 * token's refusal (`TOKEN_REVOKED`, `TOKEN_EXPIRED`, `JOB_ENDED`, `UNAUTHENTICATED` for a token gone).
 */
export function sessionEnded(tokenId: string, token: TokenFacts | undefined, reason: string, facts: PortalRequestFacts): AuditEvent {
  return {
    actor: SESSION_ACTOR,
    tenantId: token?.tenantId ?? null,
    action: 'portal.session-end',
    target: { type: 'token', id: tokenId },
    detail: { reason, ...(token !== undefined ? { role: token.role } : {}), remoteAddress: facts.remoteAddress },
  };
}

/** How often one address's throttled sign-ins are recorded, at most. */
export const THROTTLED_RECORD_INTERVAL_MS = 60_000;
/** The addresses {@link ThrottledSignIns} remembers; beyond, the oldest is forgotten. */
const MAX_REMEMBERED_ADDRESSES = 4096;

/**
 * Keeps the audit log from being flooded by a client the throttle already answers 429: each address's
 * throttled sign-ins are recorded at most once per {@link THROTTLED_RECORD_INTERVAL_MS} by this process
 * (several instances each record theirs). The first refusals, before the throttle steps in, are all recorded.
 */
export class ThrottledSignIns {
  private readonly recorded = new Map<string, number>();

  /** True when a throttled sign-in from `address` at `now` is to be recorded (and remembers that it was). */
  shouldRecord(address: string, now: number): boolean {
    const last = this.recorded.get(address);
    if (last !== undefined && now - last < THROTTLED_RECORD_INTERVAL_MS) return false;
    this.recorded.delete(address);
    if (this.recorded.size >= MAX_REMEMBERED_ADDRESSES) this.recorded.delete(this.recorded.keys().next().value!);
    this.recorded.set(address, now);
    return true;
  }
}
