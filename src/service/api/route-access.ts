import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { AuthenticationError, ForbiddenError, UserError } from '../../core/errors.js';
import type { Principal } from '../auth/principal.js';
import type { AuthThrottle } from './auth-throttle.js';
import type { Role } from '../auth/roles.js';
import { principalForSecret } from '../auth/token-store.js';
import type { ServiceContext } from '../context.js';
import { sessionCookie } from '../portal/portal-cookies.js';
import { checkCsrfToken, sessionOf, type PortalSession } from '../portal/portal-sessions.js';

/**
 * Who may call a route, declared as data on the route (`config.access`): `'public'` (no token read at
 * all), or the roles whose tokens are let in. Per-record checks (another tenant's record is a 404) come
 * after, in the resource functions (auth/scope.ts).
 */
export type RouteAccess = 'public' | readonly Role[];

/** What a portal route answers (see `config.portal`). */
export type PortalAnswer = 'page' | 'csv' | 'asset';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Required on every route: the one onRequest hook enforces it; a route without it fails to register. */
    access?: RouteAccess;
    /** One line for the OpenAPI document. */
    summary?: string;
    /**
     * Set on the portal's routes (service/portal/): they authenticate by the session cookie, never by an
     * Authorization header, their forms must carry the session's CSRF token, and they answer an HTML
     * `page` (errors too), `csv` or a static `asset`. Absent on the API's routes, which read only the header.
     */
    portal?: PortalAnswer;
  }
  interface FastifyRequest {
    /** Set by the access hook on every non-public route; null on public routes. */
    principal: Principal | null;
    /** The portal session a portal route was called in; null elsewhere. */
    portalSession: PortalSession | null;
  }
}

/** A registered route as the access matrix and the OpenAPI document see it. */
export interface RegisteredRoute {
  readonly method: string;
  readonly url: string;
  readonly access: RouteAccess;
  readonly summary: string;
  readonly schema: RouteOptions['schema'];
  /** Set on the portal's routes (session cookie, HTML): not part of the API or its OpenAPI document. */
  readonly portal?: PortalAnswer;
}

/** A request named a credential in its URL; it is refused and the value is never logged. */
export class CredentialInUrlError extends UserError {
  override readonly code = 'CREDENTIAL_IN_URL';
}

/** Query parameter names that carry credentials in other APIs; refused so that nobody gets used to them. */
const CREDENTIAL_PARAMETERS = new Set(['token', 'access_token', 'accesstoken', 'api_key', 'apikey', 'auth', 'authorization', 'bearer']);

/**
 * Installs the access control: every route added afterwards must declare `config.access` (else adding it
 * throws) and is recorded in `routes`; one onRequest hook refuses credentials in the query string (400),
 * authenticates the `Authorization: Bearer` header of non-public routes (401 when missing, malformed,
 * unknown, expired or revoked; each such failure is counted by `throttle`, which answers 429 instead once
 * there were too many) and checks the route's roles (403).
 */
export function installAccessControl(app: FastifyInstance, ctx: ServiceContext, routes: RegisteredRoute[], throttle?: AuthThrottle): void {
  app.decorateRequest('principal', null);
  app.decorateRequest('portalSession', null);
  app.addHook('onRoute', (route) => {
    const access = route.config?.access;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (access === undefined) throw new Error(`route ${methods.join(',')} ${route.url} declares no config.access`);
    for (const method of methods) {
      const portal = route.config?.portal;
      routes.push({ method, url: route.url, access, summary: route.config?.summary ?? '', schema: route.schema, ...(portal !== undefined ? { portal } : {}) });
    }
  });
  app.addHook('onRequest', async (request) => {
    refuseCredentialsInUrl(request);
    const access = request.routeOptions.config.access;
    // No route matched: the not-found handler answers 404 without looking at credentials.
    if (access === undefined || access === 'public') return;
    const portal = request.routeOptions.config.portal !== undefined;
    const principal = await (portal ? authenticateSession(ctx, request) : authenticate(ctx, request)).catch(async (err: unknown) => {
      if (err instanceof AuthenticationError) await throttle?.failed(request, portal ? undefined : bearerCredential(request));
      throw err;
    });
    if (!access.includes(principal.role)) {
      throw new ForbiddenError(`a ${principal.role} token may not ${request.method} ${request.routeOptions.url ?? ''}`);
    }
    request.principal = principal;
  });
  // A portal form's body is parsed by now: one that changes something must carry its session's CSRF token.
  app.addHook('preValidation', async (request) => {
    if (request.portalSession === null || request.method === 'GET' || request.method === 'HEAD') return;
    checkCsrfToken(request.portalSession, (request.body as Record<string, unknown> | undefined)?.['_csrf']);
  });
}

/**
 * The principal of the request's portal session cookie (portal routes only): reads nothing else, not the
 * Authorization header. `AuthenticationError` when there is no cookie, no such session, it ended, or its
 * token no longer works. Sets `request.portalSession`.
 */
async function authenticateSession(ctx: ServiceContext, request: FastifyRequest): Promise<Principal> {
  const secret = sessionCookie(request);
  if (secret === undefined) throw new AuthenticationError('sign in to see this page');
  request.portalSession = await sessionOf(ctx, secret, { remoteAddress: request.ip });
  return request.portalSession.principal;
}

/**
 * The principal of the request's `Authorization: Bearer <token>` header. Reads nothing else: not the query
 * string, not cookies. `AuthenticationError` when the header is missing or malformed, or the token unknown,
 * expired or revoked.
 */
export async function authenticate(ctx: ServiceContext, request: FastifyRequest): Promise<Principal> {
  const header = request.headers.authorization;
  if (header === undefined || header === '') {
    throw new AuthenticationError('this needs a token: send it as "Authorization: Bearer <token>" (ferry: FERRY_TOKEN or --token)');
  }
  const match = /^Bearer ([^\s]+)$/i.exec(header);
  if (match === null) throw new AuthenticationError('malformed Authorization header: expected "Bearer <token>"');
  return principalForSecret(ctx, match[1]!);
}

/** What the request presented as its credential (the Authorization header's value after `Bearer`), if anything. */
function bearerCredential(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined || header === '') return undefined;
  return header.replace(/^Bearer\s+/i, '');
}

/** The principal the access hook set; a route that is public by mistake fails closed with 401. */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) throw new AuthenticationError('this route needs a token');
  return request.principal;
}

function refuseCredentialsInUrl(request: FastifyRequest): void {
  const query = request.query as Record<string, unknown> | undefined;
  if (query === undefined || query === null) return;
  for (const [name, value] of Object.entries(query)) {
    const values = Array.isArray(value) ? value : [value];
    if (CREDENTIAL_PARAMETERS.has(name.toLowerCase()) || values.some((v) => typeof v === 'string' && v.startsWith('fry_'))) {
      throw new CredentialInUrlError(
        'credentials are never accepted in the URL: send the token as "Authorization: Bearer <token>" and revoke the one you sent',
      );
    }
  }
}
