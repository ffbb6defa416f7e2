import type { InjectOptions } from 'fastify';
import type { RegisteredRoute } from '../api/route-access.js';
import { hashSecret } from '../auth/secret-format.js';
import { isoTime } from '../ids.js';
import type { ServiceFixture } from './service-fixture.js';
import type { World } from './world.js';

/** Every kind of caller the matrix tries on every route. */
export const CALLERS = [
  'anonymous',
  'admin',
  'tenantAdmin',
  'otherTenantAdmin',
  'agent',
  'otherTenantAgent',
  'job',
  'operator',
  'expired',
  'revoked',
  'malformed',
  'endedJob',
] as const;
export type Caller = (typeof CALLERS)[number];

/** The status each caller must get. */
export type Expectations = Readonly<Record<Caller, number>>;

/**
 * One route's row: how to fill its path parameters, body and query from the world (all about tenant A),
 * and the status every caller must get.
 */
export interface MatrixRow {
  /** Path parameters by name; a wildcard route's `*` is filled from the parameter named `*`. */
  readonly params?: (world: World) => Readonly<Record<string, string>>;
  readonly body?: (world: World) => unknown;
  /** Extra request headers, e.g. the content type of a raw body. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly query?: string | ((world: World) => string);
  /** Runs on a fresh world before the requests (e.g. stores the object a request reads); each caller's request starts from its result. */
  readonly setup?: (fixture: ServiceFixture, world: World) => Promise<void>;
  readonly expect: Expectations;
}

/** Rows keyed by `METHOD /url/:pattern`, as the route registry spells them. */
export type MatrixTable = Readonly<Record<string, MatrixRow>>;

export function routeKey(route: Pick<RegisteredRoute, 'method' | 'url'>): string {
  return `${route.method} ${route.url}`;
}

/** Routes without a row, and rows without a route: both must be empty. */
export function matrixCoverage(routes: readonly RegisteredRoute[], table: MatrixTable): { missingRows: string[]; staleRows: string[] } {
  const keys = new Set(routes.map(routeKey));
  return {
    missingRows: [...keys].filter((key) => !(key in table)),
    staleRows: Object.keys(table).filter((key) => !keys.has(key)),
  };
}

/** Throws naming every route without a row (and every row without a route). */
export function assertMatrixCovers(routes: readonly RegisteredRoute[], table: MatrixTable): void {
  const { missingRows, staleRows } = matrixCoverage(routes, table);
  const problems = [
    ...missingRows.map((key) => `route ${key} has no row in the authorization matrix: add one with the status every caller must get`),
    ...staleRows.map((key) => `matrix row ${key} names no route`),
  ];
  if (problems.length > 0) throw new Error(problems.join('\n'));
}

/** A non-public route's row: the callers without a valid token (and the job token of an ended job) get 401, the others what is given. */
export function authenticated(statuses: Omit<Expectations, 'anonymous' | 'expired' | 'revoked' | 'malformed' | 'endedJob'>): Expectations {
  return { ...statuses, anonymous: 401, expired: 401, revoked: 401, malformed: 401, endedJob: 401 };
}

/** A public route's row: every caller gets `status` (credentials are not read at all). */
export function everyone(status: number): Expectations {
  return Object.fromEntries(CALLERS.map((c) => [c, status])) as Record<Caller, number>;
}

/** The Authorization header a caller sends, or none. */
export function headersOf(world: World, caller: Caller): Record<string, string> {
  const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
  switch (caller) {
    case 'anonymous':
      return {};
    case 'admin':
      return bearer(world.adminToken);
    case 'tenantAdmin':
      return bearer(world.a.tenantAdminToken);
    case 'otherTenantAdmin':
      return bearer(world.b.tenantAdminToken);
    case 'agent':
      return bearer(world.a.agentToken);
    case 'otherTenantAgent':
      return bearer(world.b.agentToken);
    case 'job':
      return bearer(world.jobToken);
    case 'operator':
      return bearer(world.operatorToken);
    case 'expired':
      return bearer(world.expiredToken);
    case 'revoked':
      return bearer(world.revokedToken);
    case 'malformed':
      return { authorization: 'Bearer fry_ten_not-a-real-token' };
    case 'endedJob':
      return bearer(world.endedJobToken);
  }
}

/** The inject() request for a route, row and caller. */
export function matrixRequest(route: RegisteredRoute, row: MatrixRow, world: World, caller: Caller): InjectOptions {
  const params = row.params?.(world) ?? {};
  const url = route.url.replace(/:([A-Za-z0-9_]+)/g, (_m, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`matrix row ${routeKey(route)} gives no value for :${name}`);
    return encodeURIComponent(value);
  }).replace(/\*$/, () => {
    const value = params['*'];
    if (value === undefined) throw new Error(`matrix row ${routeKey(route)} gives no value for its wildcard *`);
    return value;
  });
  const body = row.body?.(world);
  return {
    method: route.method,
    url: row.query ? `${url}?${typeof row.query === 'function' ? row.query(world) : row.query}` : url,
    headers: { ...headersOf(world, caller), ...row.headers },
    ...(body !== undefined ? { payload: body as InjectOptions['payload'] } : {}),
  };
}

/** The CSRF token of every session {@link portalMatrixRequest} makes: portal form rows send it as `_csrf`. */
export const MATRIX_CSRF = 'matrix-csrf-token';

/** A portal page's row: callers without a working token are sent to sign in (303), the others get what is given. */
export function portalPage(statuses: Omit<Expectations, 'anonymous' | 'expired' | 'revoked' | 'malformed' | 'endedJob'>): Expectations {
  return { ...statuses, anonymous: 303, expired: 303, revoked: 303, malformed: 303, endedJob: 303 };
}

/** A portal form's row: callers without a working token get 401 (a page saying so), the others what is given. */
export function portalForm(statuses: Omit<Expectations, 'anonymous' | 'expired' | 'revoked' | 'malformed' | 'endedJob'>): Expectations {
  return { ...statuses, anonymous: 401, expired: 401, revoked: 401, malformed: 401, endedJob: 401 };
}

/**
 * A portal route's request: the caller's credential moves from the Authorization header (which the portal
 * never reads) into a session cookie. The session is written straight into the database for the caller's
 * token, whatever its state or role (an agent's, an expired one's), so the matrix shows what the access
 * hook decides even for sessions sign-in would not open; its CSRF token is MATRIX_CSRF.
 */
export async function portalMatrixRequest(fixture: ServiceFixture, world: World, caller: Caller, request: InjectOptions): Promise<InjectOptions> {
  const headers = { ...(request.headers as Record<string, string>) };
  const bearer = headers['authorization']?.replace(/^Bearer /, '');
  delete headers['authorization'];
  if (bearer === undefined) return { ...request, headers };
  const token = await fixture.db.selectFrom('tokens').select('id').where('token_hash', '=', hashSecret(bearer)).executeTakeFirst();
  const secret = `matrix-session-${caller}`;
  if (token !== undefined) {
    const now = fixture.clock.now();
    await fixture.db
      .insertInto('portal_sessions')
      .values({ id_hash: hashSecret(secret), token_id: token.id, csrf_token: MATRIX_CSRF, created_at: isoTime(now), expires_at: isoTime(now + 3_600_000) })
      .execute();
  }
  return { ...request, headers: { ...headers, cookie: `ferry-session=${secret}` } };
}
