import { z } from 'zod';
import { Container, RecordId, ResourceName, Timestamp } from '../../contract/wire.js';

/** Shared request and response pieces; route files build their schemas from these. */

/** A record id, an ISO-8601 time, a name and a container name: the wire contract's (src/contract/wire.ts). */
export { Container, RecordId, ResourceName, Timestamp };

/** A host name as agents report it. */
export const Hostname = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a host name is letters, digits, ".", "_" and "-"');

/** The body of every error answer. */
export const ErrorBody = z.object({ code: z.string(), message: z.string() });

export const TenantParams = z.object({ tenantId: RecordId });
export const VaultParams = z.object({ vaultId: RecordId });

export const Tenant = z.object({ id: RecordId, name: z.string(), createdAt: Timestamp });
export const StorageAccount = z.object({
  id: RecordId,
  tenantId: RecordId,
  name: z.string(),
  backend: z.string().nullable(),
  createdAt: Timestamp,
});
export const Vault = z.object({
  id: RecordId,
  tenantId: RecordId,
  name: z.string(),
  storageAccountId: RecordId,
  container: z.string(),
  createdAt: Timestamp,
});
