/**
 * Throttling of failed authentications (docs/service.md, "Authentication throttling"), counted with
 * `@fastify/rate-limit`'s limiter and store. Only failures count: a request whose credential is valid is
 * never counted and never slowed, also from an address that is being throttled, so an agent behind the same
 * NAT as an attacker keeps working. Failures are counted per client address and per credential prefix
 * (`fry_ten_`, `fry_agt_`…: secrets carry no id, so the kind is all a prefix names; anything else counts as
 * one "other" prefix); once either is over its limit in the window, a failure is answered 429 with
 * `Retry-After` instead of 401, until the window ends. Counters live in the service database
 * (throttle-store.ts), so several instances on one database count together: a client reaches the limit at
 * the same count whichever instances answer it.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Clock } from '../../core/clock.js';
import type { ServiceDatabase } from '../db/database.js';
import { databaseThrottleStore } from './throttle-store.js';

/** One limit: at most `max` failures per `windowMs`; the next ones are answered 429. */
export interface FailureLimit {
  readonly max: number;
  readonly windowMs: number;
}

export interface AuthThrottleSettings {
  /** Failures one client address may make per window. */
  readonly perAddress: FailureLimit;
  /** Failures per credential prefix (all addresses together): catches guessing spread over many addresses. */
  readonly perPrefix: FailureLimit;
}

/** The defaults documented in docs/service.md. */
export const DEFAULT_AUTH_THROTTLE: AuthThrottleSettings = {
  perAddress: { max: 30, windowMs: 60_000 },
  perPrefix: { max: 300, windowMs: 60_000 },
};

/** Too many failed authentications: 429, with the seconds to wait in `Retry-After`. */
export class TooManyFailedAuthenticationsError extends Error {
  readonly statusCode = 429;
  readonly code = 'TOO_MANY_FAILED_AUTHENTICATIONS';
  constructor(readonly retryAfterSeconds: number) {
    super(`too many failed authentications from this address or with this kind of credential; retry in ${retryAfterSeconds} s with a valid token`);
  }
}

export interface AuthThrottle {
  /**
   * Counts one failed authentication of `request`, which presented `credential` (undefined when it sent
   * none). Throws {@link TooManyFailedAuthenticationsError} when its address or its credential's prefix is
   * over the limit: the caller answers that instead of its 401.
   */
  failed(request: FastifyRequest, credential: string | undefined): Promise<void>;
}

type Limiter = ReturnType<FastifyInstance['createRateLimit']>;

/**
 * Registers `@fastify/rate-limit` without any global limit (no route is limited by it), counting in
 * `store.db` on `store.clock`'s time, and returns the failure counter. The limiters are created on the
 * first failure, once the plugin has loaded. A failure the database cannot count is answered 500 (never
 * let through uncounted).
 */
export function installAuthThrottle(app: FastifyInstance, store: { readonly db: ServiceDatabase; readonly clock: Clock }, settings: AuthThrottleSettings = DEFAULT_AUTH_THROTTLE): AuthThrottle {
  void app.register(rateLimit, { global: false, store: databaseThrottleStore(store.db, store.clock) });
  const prefixes = new WeakMap<FastifyRequest, string>();
  let limiters: { address: Limiter; prefix: Limiter } | undefined;
  const limiter = (limit: FailureLimit, key: (request: FastifyRequest) => string): Limiter =>
    app.createRateLimit({ max: limit.max, timeWindow: limit.windowMs, keyGenerator: key });
  return {
    async failed(request, credential) {
      limiters ??= {
        address: limiter(settings.perAddress, (r) => `address:${r.ip}`),
        prefix: limiter(settings.perPrefix, (r) => `prefix:${prefixes.get(r) ?? 'none'}`),
      };
      const counts = [await limiters.address(request)];
      if (credential !== undefined) {
        prefixes.set(request, credentialPrefix(credential));
        counts.push(await limiters.prefix(request));
      }
      const exceeded = counts.filter((count) => !count.isAllowed && count.isExceeded);
      if (exceeded.length === 0) return;
      const seconds = Math.max(1, ...exceeded.map((count) => (count.isAllowed ? 0 : count.ttlInSeconds)));
      request.log.warn({ ip: request.ip }, 'failed authentications over the limit: answering 429');
      throw new TooManyFailedAuthenticationsError(seconds);
    },
  };
}

/** The kind prefix of a Ferry secret (`fry_ten_`), or `other`: the rest of a secret is never kept. */
function credentialPrefix(credential: string): string {
  return /^fry_[a-z]{3}_/.test(credential) ? credential.slice(0, 8) : 'other';
}
