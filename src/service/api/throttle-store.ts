/**
 * The counters of the failed-authentication throttle (auth-throttle.ts) in the service database, as a
 * `@fastify/rate-limit` store: every instance on one database counts every failure, so a client reaches
 * the limit at the same count whichever instances answer it. One row per counted key (`address:IP`,
 * `prefix:fry_ten_`) with its count and the end of its window; a window starts at the first failure after
 * the previous one ended (as the plugin's own in-memory store counts). Ended windows are deleted at most
 * once per {@link CLEANUP_EVERY_MS} per instance.
 */
import type { Clock } from '../../core/clock.js';
import type { ServiceDatabase } from '../db/database.js';
import { isoTime } from '../ids.js';

/** How often an instance deletes the rows of ended windows. */
const CLEANUP_EVERY_MS = 60_000;

/** What the plugin's limiter expects back from `incr`: the count in this window and the ms left in it. */
interface Counted {
  readonly current: number;
  readonly ttl: number;
}

/**
 * The store interface of `@fastify/rate-limit` (its `store` option is a class it instantiates, and each
 * limiter a `child` with its settings). The plugin passes the window to `incr` too; its types leave that out.
 */
export interface RateLimitStore {
  incr(key: string, callback: (err: Error | null, counted?: Counted) => void, timeWindow?: number): void;
  child(routeOptions: object): RateLimitStore;
}

/**
 * Counts one failure of `key` in a window of `windowMs`, atomically (one upsert: two instances counting at
 * once both count), and returns the count in the current window and the ms left of it.
 */
export async function countFailure(db: ServiceDatabase, clock: Clock, key: string, windowMs: number): Promise<Counted> {
  const now = clock.now();
  const at = isoTime(now);
  const windowEndsAt = isoTime(now + windowMs);
  const row = await db
    .insertInto('throttle_counters')
    .values({ key, count: 1, window_ends_at: windowEndsAt })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet((eb) => {
        const ended = eb('throttle_counters.window_ends_at', '<=', at);
        return {
          count: eb.case().when(ended).then(eb.lit(1)).else(eb('throttle_counters.count', '+', eb.lit(1))).end(),
          window_ends_at: eb.case().when(ended).then(windowEndsAt).else(eb.ref('throttle_counters.window_ends_at')).end(),
        };
      }),
    )
    .returning(['count', 'window_ends_at'])
    .executeTakeFirstOrThrow();
  return { current: Number(row.count), ttl: Math.max(0, Date.parse(row.window_ends_at) - now) };
}

/** Deletes the counters whose window ended. */
export async function deleteEndedWindows(db: ServiceDatabase, clock: Clock): Promise<void> {
  await db.deleteFrom('throttle_counters').where('window_ends_at', '<=', isoTime(clock.now())).execute();
}

/** The store class for `@fastify/rate-limit`'s `store` option, counting in `db`. */
export function databaseThrottleStore(db: ServiceDatabase, clock: Clock): new () => RateLimitStore {
  let cleanedAt = -Infinity;
  class DatabaseThrottleStore implements RateLimitStore {
    constructor(private readonly windowMs = 60_000) {}
    incr(key: string, callback: (err: Error | null, counted?: Counted) => void, timeWindow?: number): void {
      const windowMs = timeWindow ?? this.windowMs;
      const counting = async (): Promise<Counted> => {
        if (clock.now() - cleanedAt >= CLEANUP_EVERY_MS) {
          cleanedAt = clock.now();
          await deleteEndedWindows(db, clock);
        }
        return countFailure(db, clock, key, windowMs);
      };
      counting().then(
        (counted) => callback(null, counted),
        (err: Error) => callback(err),
      );
    }
    child(routeOptions: object): RateLimitStore {
      return new DatabaseThrottleStore('timeWindow' in routeOptions && typeof routeOptions.timeWindow === 'number' ? routeOptions.timeWindow : this.windowMs);
    }
  }
  return DatabaseThrottleStore;
}
