/**
 * The small pieces every shape of the service's HTTP API is built from (ids, times, digests), as zod
 * schemas: the service validates requests and answers with them, its clients the answers they read.
 */
import { z } from 'zod';

/** Ids of service records (tenants, vaults, jobs, disks, tokens…) are UUID v4 in lowercase, e.g. `1b4e28ba-2fa1-4d2f-8c3e-6b1a5f0e9d7c`. */
export const RECORD_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A record id (UUID v4, lowercase). */
export const RecordId = z.string().regex(RECORD_ID_PATTERN, 'expected an id (a lowercase UUID)');

/** An ISO-8601 time with a UTC offset, as the API writes them (`2026-11-25T20:04:12.345Z`). */
export const Timestamp = z.iso.datetime({ offset: true });

/** A SHA-256 digest as 64 lowercase hex digits. */
export const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 is 64 lowercase hex digits');

/** A count of bytes, files or objects: a whole number from 0 up. */
export const Count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
