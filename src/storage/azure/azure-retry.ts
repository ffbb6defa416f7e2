import { setTimeout as sleep } from 'node:timers/promises';
import { isRetryable, retryAfterMs } from './azure-errors.js';

/** How requests to the storage service are retried. */
export interface AzureRetryPolicy {
  /** Attempts in all, the first included. */
  readonly attempts: number;
  /** The delay before the second attempt; each later one doubles it (with jitter), up to `maxDelayMs`. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/** About a minute of retries in all: long enough for throttling to pass, short enough to fail a run cleanly. */
export const DEFAULT_AZURE_RETRY: AzureRetryPolicy = { attempts: 6, baseDelayMs: 500, maxDelayMs: 30_000 };

/**
 * Runs `request` until it succeeds, its error is not retryable (azure-errors.ts: only throttling, server
 * errors, timeouts and network errors are), or `policy.attempts` are spent; then rethrows the last error.
 * Waits between attempts with exponential backoff and full jitter, or what the service's Retry-After asks
 * (never more than `maxDelayMs`). `request` must be safe to repeat: every request we retry sends a body
 * held in memory and has the same effect when sent twice.
 */
export async function withRetries<T>(policy: AzureRetryPolicy, request: () => Promise<T>, random: () => number = Math.random): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (err) {
      if (attempt >= policy.attempts || !isRetryable(err)) throw err;
      const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      const asked = retryAfterMs(err);
      await sleep(Math.min(policy.maxDelayMs, asked ?? Math.round(backoff * (0.5 + random() / 2))));
    }
  }
}
