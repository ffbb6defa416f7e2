import type { Role } from './roles.js';

/**
 * Who a request acts as: the token it authenticated with and what that token is scoped to. A tenant-admin
 * token has `tenantId`; an agent token has `tenantId`, `machineId` and `vaultId`; a job token `jobId`
 * (and its tenant); admin and operator tokens none of them.
 */
export interface Principal {
  readonly tokenId: string;
  readonly role: Role;
  readonly tenantId?: string;
  readonly machineId?: string;
  readonly vaultId?: string;
  readonly jobId?: string;
  /** ISO-8601 UTC. */
  readonly expiresAt: string;
}

/** How timelines and the audit log name the principal: its role and token id (`tenant-admin:<id>`). */
export function actorOf(principal: Pick<Principal, 'role' | 'tokenId'>): string {
  return `${principal.role}:${principal.tokenId}`;
}
