/**
 * The portal (docs/service.md, "Portal"): server-rendered pages at `/` for people, over the same resource
 * functions as the API. Every route declares `config.portal` (the session cookie authenticates it, never a
 * bearer header) and its access as data, taken from the API route that does the same (portal-access.ts):
 * the one access hook (api/route-access.ts) enforces it, and checks the CSRF token of every form that
 * changes something. Forms are parsed with the API's schemas, and refusals are shown next to the field.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AuthenticationError, ConflictError, UserError } from '../../core/errors.js';
import type { ApiApp } from '../api/api-app.js';
import { TooManyFailedAuthenticationsError, type AuthThrottle } from '../api/auth-throttle.js';
import { JobShipping } from '../../contract/import-job.js';
import { JobParams } from '../api/import-jobs.js';
import { principalOf, type RegisteredRoute } from '../api/route-access.js';
import { RecordId, VaultParams } from '../api/schemas.js';
import { recordAudit } from '../audit/audit-log.js';
import { listAuditRecords } from '../audit/audit-query.js';
import type { ServiceContext } from '../context.js';
import { TrackingNumberInUseError } from '../jobs/job-errors.js';
import { listJobErrors } from '../resources/import-ingest.js';
import { cancelImportJob, findImportJobs, getImportJob, listTenantImportJobs, shipImportJob } from '../resources/import-jobs.js';
import { listBackupRuns } from '../resources/backup-runs.js';
import { listMachines } from '../resources/machines.js';
import { listStorageAccounts } from '../resources/storage-accounts.js';
import { listTenants } from '../resources/tenants.js';
import { createTokenAs, listTokensAs, revokeTokenAs } from '../resources/tokens.js';
import { CREATABLE_ROLES, type CreatableRole } from '../auth/roles.js';
import { getVaultDetails, listVaultSeeds, listVaults } from '../resources/vaults.js';
import type { Html } from './html.js';
import { PortalAccess, type PortalPage } from './portal-access.js';
import { signInRefused, ThrottledSignIns, type PortalRequestFacts, type SignInMethod } from './portal-audit.js';
import { PORTAL_CSS, PORTAL_JS } from './portal-assets.js';
import { clearSessionCookie, sessionCookie, setSessionCookie, setSignInCookie, signInCookie } from './portal-cookies.js';
import type { Viewer } from './portal-layout.js';
import { CsrfTokenError, endSession, signInCredentialToken, signInWithLink, signInWithToken, type OpenedSession } from './portal-sessions.js';
import { auditPage, tenantsPage, tokensPage, type TokensPageData } from './pages/admin-pages.js';
import { datacenterPage } from './pages/datacenter-page.js';
import { errorLogCsv, jobListPage, jobPage, type JobPageData, type ShippingForm } from './pages/job-pages.js';
import { signInLinkPage, signInPage } from './pages/sign-in-pages.js';
import { vaultListPage, vaultPage } from './pages/vault-pages.js';

const SignInCode = z.object({ code: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'not a sign-in link') });
const TokenParams = z.object({ tokenId: RecordId });
/** Form fields arrive as strings; a missing one is the empty string. */
type Form = Readonly<Record<string, string | undefined>>;

export interface PortalDeps {
  /** The API's routes, registered before the portal's: the portal's access follows theirs. */
  readonly apiRoutes: readonly RegisteredRoute[];
  readonly throttle: AuthThrottle;
}

function sendPage(reply: FastifyReply, body: Html, status = 200): FastifyReply {
  return reply.status(status).type('text/html; charset=utf-8').send(body.text);
}

function factsOf(request: FastifyRequest): PortalRequestFacts {
  return { remoteAddress: request.ip };
}

function formOf(request: FastifyRequest): Form {
  const body = request.body;
  return typeof body === 'object' && body !== null ? (body as Form) : {};
}

/** Registers the portal's pages, forms and its two static files on `app` (after the API's routes). */
export function registerPortalRoutes(app: ApiApp, ctx: ServiceContext, deps: PortalDeps): PortalAccess {
  const access = new PortalAccess(deps.apiRoutes);
  const viewerOf = (request: FastifyRequest): Viewer => ({ principal: principalOf(request), csrfToken: request.portalSession?.csrfToken ?? '', access });
  const page = (name: PortalPage, answer: 'page' | 'csv' = 'page') => ({ access: access.roles(name), portal: answer });

  // Forms post application/x-www-form-urlencoded, and only to the portal: the API still takes JSON alone.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (request, body, done) => {
    if (request.routeOptions.config.portal === undefined) {
      done(Object.assign(new UserError('this route takes JSON'), { statusCode: 415 }), undefined);
      return;
    }
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  for (const [file, type, text] of [['portal.css', 'text/css; charset=utf-8', PORTAL_CSS], ['portal.js', 'text/javascript; charset=utf-8', PORTAL_JS]] as const) {
    app.route({
      method: 'GET',
      url: `/portal/assets/${file}`,
      config: { access: 'public', portal: 'asset' },
      handler: async (_request, reply) => reply.type(type).header('cache-control', 'public, max-age=300').send(text),
    });
  }

  // Sign-in: the form and this browser's cookie carry one random value (there is no session yet to hold it).
  const signInForm = (request: FastifyRequest, reply: FastifyReply, problem?: string, status = 200): FastifyReply => {
    const formToken = randomBytes(24).toString('base64url');
    setSignInCookie(request, reply, formToken);
    return sendPage(reply, signInPage(formToken, problem), status);
  };
  const checkSignInForm = (request: FastifyRequest): void => {
    const expected = signInCookie(request);
    if (expected === undefined || formOf(request)['_csrf'] !== expected) {
      throw new CsrfTokenError('this sign-in form came without its security token (or from another page): open the sign-in page again');
    }
  };
  // A refused sign-in counts as a failed authentication and is recorded: with the refusal's code, or as
  // THROTTLED when the throttle answers 429 instead (at most once a minute per address: ThrottledSignIns).
  const throttledSignIns = new ThrottledSignIns();
  const refuseSignIn = async (request: FastifyRequest, err: AuthenticationError, method: SignInMethod, secret: string): Promise<void> => {
    const token = await signInCredentialToken(ctx.db, method, secret);
    try {
      await deps.throttle.failed(request, method === 'token' && secret !== '' ? secret : undefined);
    } catch (throttled) {
      if (throttled instanceof TooManyFailedAuthenticationsError && throttledSignIns.shouldRecord(request.ip, ctx.clock.now())) {
        await recordAudit(ctx, signInRefused(token, method, 'THROTTLED', throttled.message, factsOf(request)));
      }
      throw throttled;
    }
    await recordAudit(ctx, signInRefused(token, method, err.code, err.message, factsOf(request)));
  };
  const signedIn = (request: FastifyRequest, reply: FastifyReply, session: OpenedSession): FastifyReply => {
    setSessionCookie(request, reply, session.secret, session.expiresAt, ctx.clock.now());
    return reply.redirect('/', 303);
  };
  app.route({ method: 'GET', url: '/sign-in', config: { access: 'public', portal: 'page' }, handler: async (request, reply) => signInForm(request, reply) });
  app.route({
    method: 'POST',
    url: '/sign-in',
    config: { access: 'public', portal: 'page' },
    handler: async (request, reply) => {
      checkSignInForm(request);
      const token = (formOf(request)['token'] ?? '').trim();
      try {
        return signedIn(request, reply, await signInWithToken(ctx, token, factsOf(request)));
      } catch (err) {
        if (!(err instanceof AuthenticationError)) throw err;
        await refuseSignIn(request, err, 'token', token);
        return signInForm(request, reply, err.message, 401);
      }
    },
  });
  app.route({
    method: 'GET',
    url: '/sign-in/:code',
    config: { access: 'public', portal: 'page' },
    schema: { params: SignInCode },
    handler: async (request, reply) => {
      const formToken = randomBytes(24).toString('base64url');
      setSignInCookie(request, reply, formToken);
      return sendPage(reply, signInLinkPage(request.params.code, formToken));
    },
  });
  app.route({
    method: 'POST',
    url: '/sign-in/:code',
    config: { access: 'public', portal: 'page' },
    schema: { params: SignInCode },
    handler: async (request, reply) => {
      checkSignInForm(request);
      try {
        return signedIn(request, reply, await signInWithLink(ctx, request.params.code, factsOf(request)));
      } catch (err) {
        if (err instanceof AuthenticationError) await refuseSignIn(request, err, 'link', request.params.code);
        throw err;
      }
    },
  });
  app.route({
    method: 'POST',
    url: '/sign-out',
    config: page('signOut'),
    handler: async (request, reply) => {
      const secret = sessionCookie(request);
      if (secret !== undefined) await endSession(ctx, secret, principalOf(request), factsOf(request));
      clearSessionCookie(request, reply);
      return reply.redirect('/sign-in', 303);
    },
  });

  app.route({
    method: 'GET',
    url: '/',
    config: page('home'),
    handler: async (request, reply) => {
      const principal = principalOf(request);
      if (principal.role === 'job') return reply.redirect(`/jobs/${principal.jobId ?? ''}`, 303);
      return reply.redirect(principal.role === 'operator' ? '/datacenter' : '/jobs', 303);
    },
  });

  // Import jobs.
  app.route({
    method: 'GET',
    url: '/jobs',
    config: page('jobs'),
    handler: async (request, reply) => sendPage(reply, jobListPage(viewerOf(request), await findImportJobs(ctx, principalOf(request), {}), ctx.clock.now())),
  });
  const jobPageData = async (request: FastifyRequest, jobId: string, extra: Partial<JobPageData> = {}): Promise<JobPageData> => {
    const principal = principalOf(request);
    const job = await getImportJob(ctx, principal, jobId);
    return { job, errors: await listJobErrors(ctx, principal, jobId), shippingAddress: ctx.importJobs.shippingAddress, now: ctx.clock.now(), ...extra };
  };
  app.route({
    method: 'GET',
    url: '/jobs/:jobId',
    config: page('job'),
    schema: { params: JobParams },
    handler: async (request, reply) => {
      const saved = (request.query as Record<string, unknown>)['saved'];
      const notice = saved === 'shipping' ? 'Shipping information saved.' : saved === 'cancel' ? 'The import job was cancelled.' : undefined;
      return sendPage(reply, jobPage(viewerOf(request), await jobPageData(request, request.params.jobId, notice !== undefined ? { notice } : {})));
    },
  });
  app.route({
    method: 'POST',
    url: '/jobs/:jobId/shipping',
    config: page('ship'),
    schema: { params: JobParams },
    handler: async (request, reply) => {
      const form = formOf(request);
      // Browsers send a textarea's line breaks as CRLF; the address keeps them as LF, as the API takes it.
      const values = { carrier: form['carrier'] ?? '', trackingNumber: form['trackingNumber'] ?? '', returnAddress: (form['returnAddress'] ?? '').replace(/\r\n?/g, '\n') };
      const parsed = JobShipping.safeParse(values);
      const refused = async (errors: ShippingForm['errors'], status: number): Promise<FastifyReply> =>
        sendPage(reply, jobPage(viewerOf(request), await jobPageData(request, request.params.jobId, { form: { values, errors } })), status);
      if (!parsed.success) {
        const errors: Record<string, string> = {};
        for (const issue of parsed.error.issues) errors[String(issue.path[0] ?? 'form')] ??= issue.message;
        return refused(errors, 400);
      }
      try {
        await shipImportJob(ctx, principalOf(request), request.params.jobId, parsed.data);
      } catch (err) {
        // The rules' refusals (tracking number in use, deadline passed, job no longer shippable) go next to the form.
        if (!(err instanceof ConflictError)) throw err;
        return refused(err instanceof TrackingNumberInUseError ? { trackingNumber: err.message } : { form: err.message }, 409);
      }
      return reply.redirect(`/jobs/${request.params.jobId}?saved=shipping`, 303);
    },
  });
  app.route({
    method: 'POST',
    url: '/jobs/:jobId/cancel',
    config: page('cancel'),
    schema: { params: JobParams },
    handler: async (request, reply) => {
      await cancelImportJob(ctx, principalOf(request), request.params.jobId);
      return reply.redirect(`/jobs/${request.params.jobId}?saved=cancel`, 303);
    },
  });
  app.route({
    method: 'GET',
    url: '/jobs/:jobId/errors.csv',
    config: page('errors', 'csv'),
    schema: { params: JobParams },
    handler: async (request, reply) => {
      const principal = principalOf(request);
      const job = await getImportJob(ctx, principal, request.params.jobId);
      const csv = errorLogCsv(await listJobErrors(ctx, principal, job.id));
      return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${job.name}-errors.csv"`).send(csv);
    },
  });

  // Vaults.
  app.route({
    method: 'GET',
    url: '/vaults',
    config: page('vaults'),
    handler: async (request, reply) => {
      const principal = principalOf(request);
      const rows = [];
      for (const tenant of await listTenants(ctx, principal)) {
        const seeds = await listVaultSeeds(ctx, principal, tenant.id);
        for (const vault of await listVaults(ctx, principal, tenant.id)) rows.push({ vault, tenantName: tenant.name, seed: seeds.get(vault.id) ?? null });
      }
      return sendPage(reply, vaultListPage(viewerOf(request), rows));
    },
  });
  app.route({
    method: 'GET',
    url: '/vaults/:vaultId',
    config: page('vault'),
    schema: { params: VaultParams },
    handler: async (request, reply) => {
      const principal = principalOf(request);
      const vault = await getVaultDetails(ctx, principal, request.params.vaultId);
      const jobs = (await listTenantImportJobs(ctx, principal, vault.tenantId)).filter((job) => job.vaultId === vault.id);
      const data = { vault, machines: await listMachines(ctx, principal, vault.id), runs: await listBackupRuns(ctx, principal, vault.id, 60), jobs };
      return sendPage(reply, vaultPage(viewerOf(request), data));
    },
  });

  // The datacenter's queue.
  app.route({
    method: 'GET',
    url: '/datacenter',
    config: page('datacenter'),
    handler: async (request, reply) => sendPage(reply, datacenterPage(viewerOf(request), await findImportJobs(ctx, principalOf(request), {}))),
  });

  // Administration.
  app.route({
    method: 'GET',
    url: '/admin/tenants',
    config: page('tenants'),
    handler: async (request, reply) => {
      const principal = principalOf(request);
      const tenants = [];
      for (const tenant of await listTenants(ctx, principal)) tenants.push({ tenant, accounts: await listStorageAccounts(ctx, principal, tenant.id) });
      return sendPage(reply, tenantsPage(viewerOf(request), tenants));
    },
  });
  const tokensData = async (request: FastifyRequest, extra: Partial<TokensPageData> = {}): Promise<TokensPageData> => {
    const principal = principalOf(request);
    return { tokens: await listTokensAs(ctx, principal), tenants: await listTenants(ctx, principal), ...extra };
  };
  app.route({
    method: 'GET',
    url: '/admin/tokens',
    config: page('tokens'),
    handler: async (request, reply) => sendPage(reply, tokensPage(viewerOf(request), await tokensData(request))),
  });
  app.route({
    method: 'POST',
    url: '/admin/tokens',
    config: page('createToken'),
    handler: async (request, reply) => {
      const form = formOf(request);
      const role = form['role'] ?? '';
      const tenantId = form['tenantId'] ?? '';
      try {
        if (!(CREATABLE_ROLES as readonly string[]).includes(role)) throw new UserError(`choose one of the roles ${CREATABLE_ROLES.join(', ')}`);
        const created = await createTokenAs(ctx, principalOf(request), { role: role as CreatableRole, ...(tenantId !== '' ? { tenantId } : {}) });
        return sendPage(reply, tokensPage(viewerOf(request), await tokensData(request, { created })), 201);
      } catch (err) {
        if (!(err instanceof UserError) || err instanceof AuthenticationError) throw err;
        return sendPage(reply, tokensPage(viewerOf(request), await tokensData(request, { problem: err.message })), 400);
      }
    },
  });
  app.route({
    method: 'POST',
    url: '/admin/tokens/:tokenId/revoke',
    config: page('revokeToken'),
    schema: { params: TokenParams },
    handler: async (request, reply) => {
      await revokeTokenAs(ctx, principalOf(request), request.params.tokenId);
      return reply.redirect('/admin/tokens', 303);
    },
  });
  app.route({
    method: 'GET',
    url: '/admin/audit',
    config: page('audit'),
    schema: { querystring: z.strictObject({ cursor: z.string().max(512).optional() }) },
    handler: async (request, reply) => {
      const principal = principalOf(request);
      const { records, nextCursor } = await listAuditRecords(ctx, principal, { limit: 100, ...(request.query.cursor !== undefined ? { cursor: request.query.cursor } : {}) });
      const tenantNames = new Map((await listTenants(ctx, principal)).map((t) => [t.id, t.name]));
      return sendPage(reply, auditPage(viewerOf(request), records, nextCursor, tenantNames));
    },
  });
  return access;
}
