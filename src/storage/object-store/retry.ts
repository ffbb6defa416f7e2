import { setTimeout as sleep } from 'node:timers/promises';
import { envInteger } from '../../core/env-integer.js';

/** How requests to an object store are retried. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly attempts: number;
  /** The delay before the second attempt; each later one doubles it (with jitter), up to `maxDelayMs`. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/** About a minute of retries in all: long enough for throttling to pass, short enough to fail a run cleanly. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 500, maxDelayMs: 30_000 };

/**
 * The retry policy the environment asks for: `FERRY_STORE_RETRY_ATTEMPTS` (attempts in all, 1–100),
 * `FERRY_STORE_RETRY_DELAY_MS` (the first delay, 1–60000) and `FERRY_STORE_RETRY_MAX_DELAY_MS` (the longest,
 * 1–600000; the delays double up to it), each defaulting to `DEFAULT_RETRY`'s. How long a run rides out an unreachable store before it fails: raise it
 * where a store's maintenance takes longer than a minute, lower it where failing fast matters more.
 * A `UserError` naming the variable for a value that is not a whole number in range.
 */
export function retryPolicyFromEnv(env: NodeJS.ProcessEnv): RetryPolicy {
  const ms = (name: string, max: number): number | undefined => envInteger(env, name, { min: 1, max, what: 'a number of milliseconds' });
  return {
    attempts: envInteger(env, 'FERRY_STORE_RETRY_ATTEMPTS', { min: 1, max: 100, what: 'a number of attempts' }) ?? DEFAULT_RETRY.attempts,
    baseDelayMs: ms('FERRY_STORE_RETRY_DELAY_MS', 60_000) ?? DEFAULT_RETRY.baseDelayMs,
    maxDelayMs: ms('FERRY_STORE_RETRY_MAX_DELAY_MS', 600_000) ?? DEFAULT_RETRY.maxDelayMs,
  };
}

/** What the retry loop asks a back end about an error (store-errors.ts builds one from a store's dialect). */
export interface RetryClassifier {
  /** True when a later attempt may succeed. */
  isRetryable(err: unknown): boolean;
  /** The delay the store asked for (Retry-After), in milliseconds, when it gave one. */
  retryAfterMs(err: unknown): number | undefined;
}

/**
 * Runs `request` until it succeeds, its error is not retryable, or `policy.attempts` are spent; then
 * rethrows the last error. Waits between attempts with exponential backoff and full jitter, or what the
 * store's Retry-After asks (never more than `maxDelayMs`). `request` must be safe to repeat: every request
 * the object-store back ends retry sends a body held in memory and has the same effect when sent twice.
 */
export async function withRetries<T>(policy: RetryPolicy, classifier: RetryClassifier, request: () => Promise<T>, random: () => number = Math.random): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (err) {
      if (attempt >= policy.attempts || !classifier.isRetryable(err)) throw err;
      const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      const asked = classifier.retryAfterMs(err);
      await sleep(Math.min(policy.maxDelayMs, asked ?? Math.round(backoff * (0.5 + random() / 2))));
    }
  }
}
