import { z } from 'zod';
import type { ServiceContext } from '../context.js';
import { createSignInLink, PORTAL_ROLES } from '../portal/portal-sessions.js';
import type { ApiApp } from './api-app.js';
import { principalOf } from './route-access.js';
import { Timestamp } from './schemas.js';

/** POST /v1/portal/sign-in-links: a one-time link that signs a browser in to the portal with the calling token. */
export function registerPortalLinkRoutes(app: ApiApp, ctx: ServiceContext): void {
  app.route({
    method: 'POST',
    url: '/v1/portal/sign-in-links',
    config: { access: PORTAL_ROLES, summary: 'Make a one-time link (valid 15 minutes) that signs a browser in to the portal as the calling token' },
    schema: { body: z.strictObject({}).nullish(), response: { 201: z.object({ path: z.string(), expiresAt: Timestamp }) } },
    handler: async (request, reply) => reply.status(201).send(await createSignInLink(ctx, principalOf(request))),
  });
}
