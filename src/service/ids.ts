import type { RandomSource } from '../core/random.js';

/** A new record id (src/contract/wire.ts, RECORD_ID_PATTERN) from 16 random bytes. */
export function newRecordId(random: RandomSource): string {
  const b = random.bytes(16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The database's time format: ISO-8601 UTC with milliseconds (see db/schema.ts). */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
