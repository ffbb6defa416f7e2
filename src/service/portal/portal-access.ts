/**
 * Who may open each portal page or send each form: declared as data, and taken from the API route that
 * does the same thing (the page shows what that route answers, the form does what that route does), so a
 * person sees exactly what their token's role may see through the API. The one access hook
 * (api/route-access.ts) enforces it on the page's route; pages use the same table to show only the links
 * and forms the person may use. Per-record visibility (another tenant's job is "not found") is the
 * resource functions', as for the API.
 */
import type { RegisteredRoute } from '../api/route-access.js';
import type { Principal } from '../auth/principal.js';
import type { Role } from '../auth/roles.js';
import { PORTAL_ROLES } from './portal-sessions.js';

/** Each page or form, and the API route (`METHOD /url`) whose roles it has; or its own roles. */
export const PORTAL_PAGES = {
  home: { roles: PORTAL_ROLES },
  signOut: { roles: PORTAL_ROLES },
  jobs: { like: 'GET /v1/import-jobs' },
  job: { like: 'GET /v1/import-jobs/:jobId' },
  errors: { like: 'GET /v1/import-jobs/:jobId/errors' },
  ship: { like: 'POST /v1/import-jobs/:jobId/shipping' },
  cancel: { like: 'POST /v1/import-jobs/:jobId/cancel' },
  vaults: { like: 'GET /v1/tenants/:tenantId/vaults' },
  vault: { like: 'GET /v1/vaults/:vaultId/backup-runs' },
  datacenter: { like: 'POST /v1/import-jobs/:jobId/receive' },
  tenants: { like: 'GET /v1/tenants/:tenantId/storage-accounts' },
  tokens: { like: 'GET /v1/tokens' },
  createToken: { like: 'POST /v1/tokens' },
  revokeToken: { like: 'DELETE /v1/tokens/:tokenId' },
  audit: { like: 'GET /v1/audit' },
} as const satisfies Record<string, { readonly like: string } | { readonly roles: readonly Role[] }>;

export type PortalPage = keyof typeof PORTAL_PAGES;

/** The roles of every portal page, resolved against the registered API routes. */
export class PortalAccess {
  readonly #roles = new Map<PortalPage, readonly Role[]>();

  /** Throws when a page names an API route that is not registered (a renamed route must not open a page to everyone). */
  constructor(apiRoutes: readonly RegisteredRoute[]) {
    for (const [page, rule] of Object.entries(PORTAL_PAGES) as [PortalPage, (typeof PORTAL_PAGES)[PortalPage]][]) {
      let roles: readonly Role[];
      if ('roles' in rule) roles = rule.roles;
      else {
        const route = apiRoutes.find((r) => `${r.method} ${r.url}` === rule.like);
        if (route === undefined || route.access === 'public') throw new Error(`portal page ${page} follows ${rule.like}, which is not a registered non-public route`);
        roles = route.access;
      }
      this.#roles.set(page, roles.filter((role) => PORTAL_ROLES.includes(role)));
    }
  }

  roles(page: PortalPage): readonly Role[] {
    return this.#roles.get(page)!;
  }

  may(principal: Principal, page: PortalPage): boolean {
    return this.roles(page).includes(principal.role);
  }
}
