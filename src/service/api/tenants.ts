import { z } from 'zod';
import type { ServiceContext } from '../context.js';
import { createTenant, getTenant, listTenants } from '../resources/tenants.js';
import type { ApiApp } from './api-app.js';
import { principalOf } from './route-access.js';
import { ResourceName, Tenant, TenantParams } from './schemas.js';

/** POST/GET /v1/tenants, GET /v1/tenants/:tenantId. */
export function registerTenantRoutes(app: ApiApp, ctx: ServiceContext): void {
  app.route({
    method: 'POST',
    url: '/v1/tenants',
    config: { access: ['admin'], summary: 'Create a tenant' },
    schema: { body: z.strictObject({ name: ResourceName }), response: { 201: Tenant } },
    handler: async (request, reply) => reply.status(201).send(await createTenant(ctx, principalOf(request), request.body.name)),
  });
  app.route({
    method: 'GET',
    url: '/v1/tenants',
    config: { access: ['admin', 'tenant-admin'], summary: 'List the tenants the token may see (a tenant-admin: its own)' },
    schema: { response: { 200: z.object({ tenants: z.array(Tenant) }) } },
    handler: async (request) => ({ tenants: await listTenants(ctx, principalOf(request)) }),
  });
  app.route({
    method: 'GET',
    url: '/v1/tenants/:tenantId',
    config: { access: ['admin', 'tenant-admin'], summary: 'Show a tenant' },
    schema: { params: TenantParams, response: { 200: Tenant } },
    handler: async (request) => getTenant(ctx, principalOf(request), request.params.tenantId),
  });
}
