import { z } from 'zod';
import type { ServiceContext } from '../context.js';
import { registerMachine } from '../resources/registration.js';
import type { ApiApp } from './api-app.js';
import { Hostname, RecordId, Timestamp } from './schemas.js';

const Registration = z.object({
  token: z.string(),
  tokenId: RecordId,
  expiresAt: Timestamp,
  machine: z.object({ id: RecordId, hostname: z.string() }),
  tenant: z.object({ id: RecordId, name: z.string() }),
  vault: z.object({ id: RecordId, name: z.string(), repositoryInitialized: z.boolean() }),
});

/**
 * POST /v1/registrations: the registration code in the body is the credential, so the route is public
 * (it reads no Authorization header).
 */
export function registerRegistrationRoutes(app: ApiApp, ctx: ServiceContext): void {
  app.route({
    method: 'POST',
    url: '/v1/registrations',
    config: { access: 'public', summary: 'Exchange a one-time registration code and a host name for an agent token' },
    schema: {
      body: z.strictObject({ code: z.string().min(1).max(128), hostname: Hostname }),
      response: { 201: Registration },
    },
    handler: async (request, reply) => reply.status(201).send(await registerMachine(ctx, request.body)),
  });
}
