import { z } from 'zod';
import { CREATABLE_ROLES, ROLES } from '../auth/roles.js';
import type { ServiceContext } from '../context.js';
import { REVOKE_REASONS } from '../auth/token-store.js';
import { confirmRenewalAs, createTokenAs, listTokensAs, renewTokenAs, revokeTokenAs } from '../resources/tokens.js';
import type { ApiApp } from './api-app.js';
import { principalOf } from './route-access.js';
import { RecordId, Timestamp } from './schemas.js';

const TokenRecord = z.object({
  id: RecordId,
  role: z.enum(ROLES),
  tenantId: RecordId.nullable(),
  machineId: RecordId.nullable(),
  vaultId: RecordId.nullable(),
  jobId: z.string().nullable(),
  createdAt: Timestamp,
  expiresAt: Timestamp,
  revokedAt: Timestamp.nullable(),
  revokedReason: z.enum(REVOKE_REASONS).nullable(),
  replacesTokenId: RecordId.nullable(),
});

const TokenListing = TokenRecord.extend({
  state: z.enum(['active', 'expired', 'revoked']),
  tenantName: z.string().nullable(),
  machineName: z.string().nullable(),
  vaultName: z.string().nullable(),
  jobName: z.string().nullable(),
});

const Principal = z.object({
  tokenId: RecordId,
  role: z.enum(ROLES),
  tenantId: RecordId.optional(),
  machineId: RecordId.optional(),
  vaultId: RecordId.optional(),
  jobId: z.string().optional(),
  expiresAt: Timestamp,
});

/** Tokens: create (the secret is in the answer, once), list, revoke, an agent token's renewal; and whoami for any token. */
export function registerTokenRoutes(app: ApiApp, ctx: ServiceContext): void {
  app.route({
    method: 'POST',
    url: '/v1/tokens',
    config: { access: ['admin', 'tenant-admin'], summary: 'Create a token (a tenant-admin: only tenant-admin tokens of its tenant)' },
    schema: {
      body: z.strictObject({
        role: z.enum(CREATABLE_ROLES),
        tenantId: RecordId.optional(),
        expiresInSeconds: z.number().int().min(1).max(5 * 365 * 86_400).optional(),
      }),
      response: { 201: TokenRecord.extend({ token: z.string() }) },
    },
    handler: async (request, reply) => reply.status(201).send(await createTokenAs(ctx, principalOf(request), request.body)),
  });
  app.route({
    method: 'GET',
    url: '/v1/tokens',
    config: { access: ['admin', 'tenant-admin'], summary: "List tokens of every role with their state (a tenant-admin: its tenant's); never their secrets" },
    schema: { response: { 200: z.object({ tokens: z.array(TokenListing) }) } },
    handler: async (request) => ({ tokens: await listTokensAs(ctx, principalOf(request)) }),
  });
  app.route({
    method: 'DELETE',
    url: '/v1/tokens/:tokenId',
    config: { access: ['admin', 'tenant-admin'], summary: "Revoke a token of any role (a tenant-admin: its tenant's); idempotent" },
    schema: { params: z.object({ tokenId: RecordId }), response: { 200: TokenListing } },
    handler: async (request) => revokeTokenAs(ctx, principalOf(request), request.params.tokenId),
  });
  app.route({
    method: 'POST',
    url: '/v1/tokens/renew',
    config: { access: ['agent'], summary: 'Renew the presented agent token: a new one for the same machine and vault (the old one works until confirmed)' },
    schema: { response: { 201: TokenRecord.extend({ token: z.string() }) } },
    handler: async (request, reply) => reply.status(201).send(await renewTokenAs(ctx, principalOf(request))),
  });
  app.route({
    method: 'POST',
    url: '/v1/tokens/renew/confirm',
    config: { access: ['agent'], summary: 'Confirm a renewal with the new agent token, once stored: revokes the token it replaces' },
    schema: { response: { 200: z.object({ revokedTokenIds: z.array(RecordId) }) } },
    handler: async (request) => confirmRenewalAs(ctx, principalOf(request)),
  });
  app.route({
    method: 'GET',
    url: '/v1/whoami',
    config: { access: ['admin', 'tenant-admin', 'agent', 'job', 'operator'], summary: 'Show what the presented token is' },
    schema: { response: { 200: Principal } },
    handler: async (request) => principalOf(request),
  });
}
