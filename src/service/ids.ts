import type { RandomSource } from '../core/random.js';

/** Ids of service records (tenants, vaults, tokens…) are UUID v4 in lowercase, e.g. `1b4e28ba-2fa1-4d2f-8c3e-6b1a5f0e9d7c`. */
export const RECORD_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A new record id from 16 random bytes. */
export function newRecordId(random: RandomSource): string {
  const b = random.bytes(16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** True for a string shaped like a record id (any case). Names may not have this shape, so an id never reads as a name. */
export function looksLikeRecordId(value: string): boolean {
  return RECORD_ID_PATTERN.test(value.toLowerCase());
}

/** The database's time format: ISO-8601 UTC with milliseconds (see db/schema.ts). */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
