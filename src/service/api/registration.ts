import { z } from 'zod';
import { AuthenticationError } from '../../core/errors.js';
import type { ServiceContext } from '../context.js';
import { registerMachine } from '../resources/registration.js';
import type { ApiApp } from './api-app.js';
import type { AuthThrottle } from './auth-throttle.js';
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
 * (it reads no Authorization header). A refused code is a failed authentication for `throttle`.
 */
export function registerRegistrationRoutes(app: ApiApp, ctx: ServiceContext, throttle?: AuthThrottle): void {
  app.route({
    method: 'POST',
    url: '/v1/registrations',
    config: { access: 'public', summary: 'Exchange a one-time registration code and a host name for an agent token' },
    schema: {
      body: z.strictObject({ code: z.string().min(1).max(128), hostname: Hostname }),
      response: { 201: Registration },
    },
    handler: async (request, reply) => {
      const registration = await registerMachine(ctx, request.body).catch(async (err: unknown) => {
        if (err instanceof AuthenticationError) await throttle?.failed(request, request.body.code);
        throw err;
      });
      return reply.status(201).send(registration);
    },
  });
}
