/**
 * The small pieces every shape of the service's HTTP API is built from (ids, times, digests), as zod
 * schemas: the service validates requests and answers with them, its clients the answers they read.
 */
import { z } from 'zod';

/** Ids of service records (tenants, vaults, jobs, disks, tokens…) are UUID v4 in lowercase, e.g. `1b4e28ba-2fa1-4d2f-8c3e-6b1a5f0e9d7c`. */
export const RECORD_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** True for a string shaped like a record id (any case). Names may not have this shape, so an id never reads as a name. */
export function looksLikeRecordId(value: string): boolean {
  return RECORD_ID_PATTERN.test(value.toLowerCase());
}

/** A record id (UUID v4, lowercase). */
export const RecordId = z.string().regex(RECORD_ID_PATTERN, 'expected an id (a lowercase UUID)');

/** An ISO-8601 time with a UTC offset, as the API writes them (`2026-11-25T20:04:12.345Z`). */
export const Timestamp = z.iso.datetime({ offset: true });

/** A SHA-256 digest as 64 lowercase hex digits. */
export const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 is 64 lowercase hex digits');

/** A count of bytes, files or objects: a whole number from 0 up. */
export const Count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * A name for a tenant, storage account, vault or import job: 1–63 characters of letters, digits, `.`, `_`
 * and `-`, starting with a letter or digit, and not shaped like an id (so the CLI can take a name or an id).
 */
export const ResourceName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a name is letters, digits, ".", "_" and "-", starting with a letter or digit')
  .refine((name) => !looksLikeRecordId(name), 'a name may not look like an id');

/**
 * A container name as Azure allows it (3–63 of a-z, 0-9 and single hyphens inside), so it fits every back
 * end. It is also what keeps a container inside its account on the filesystem: no `/`, no `.` or `..`,
 * never empty or absolute.
 */
export const CONTAINER_PATTERN = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/;

/** What {@link CONTAINER_PATTERN} allows, in words (for error messages). */
export const CONTAINER_RULE = 'a container is 3-63 lowercase letters, digits and single hyphens inside';

/** A container name (see {@link CONTAINER_PATTERN}). */
export const Container = z.string().regex(CONTAINER_PATTERN, CONTAINER_RULE);
