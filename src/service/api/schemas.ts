import { z } from 'zod';
import { CONTAINER_PATTERN, CONTAINER_RULE } from '../backend-location.js';
import { RecordId, Timestamp } from '../../contract/wire.js';
import { looksLikeRecordId } from '../ids.js';

/** Shared request and response pieces; route files build their schemas from these. */

/** A record id (UUID v4, lowercase), and an ISO-8601 time: the wire contract's (src/contract/wire.ts). */
export { RecordId, Timestamp };

/**
 * A name for a tenant, storage account or vault: 1–63 characters of letters, digits, `.`, `_` and `-`,
 * starting with a letter or digit, and not shaped like an id (so the CLI can take a name or an id).
 */
export const ResourceName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a name is letters, digits, ".", "_" and "-", starting with a letter or digit')
  .refine((name) => !looksLikeRecordId(name), 'a name may not look like an id');

/** A container name as Azure allows it (3–63 of a-z, 0-9 and single hyphens inside), so it fits every back end. */
export const Container = z.string().regex(CONTAINER_PATTERN, CONTAINER_RULE);

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
