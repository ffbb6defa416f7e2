import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UnavailableError, UserError } from '../../core/errors.js';
import { translateS3Error } from '../s3/s3-errors.js';
import { DEFAULT_RETRY, retryPolicyFromEnv, withRetries } from './retry.js';

describe('retryPolicyFromEnv', () => {
  const cases: ReadonlyArray<readonly [string, NodeJS.ProcessEnv, object | 'refused']> = [
    ['nothing set: the default', {}, DEFAULT_RETRY],
    ['empty values: the default', { FERRY_STORE_RETRY_ATTEMPTS: '' }, DEFAULT_RETRY],
    ['each set', { FERRY_STORE_RETRY_ATTEMPTS: '2', FERRY_STORE_RETRY_DELAY_MS: '50', FERRY_STORE_RETRY_MAX_DELAY_MS: '400' }, { attempts: 2, baseDelayMs: 50, maxDelayMs: 400 }],
    ['one set, the others default', { FERRY_STORE_RETRY_ATTEMPTS: '100' }, { ...DEFAULT_RETRY, attempts: 100 }],
    ['zero attempts', { FERRY_STORE_RETRY_ATTEMPTS: '0' }, 'refused'],
    ['too many attempts', { FERRY_STORE_RETRY_ATTEMPTS: '101' }, 'refused'],
    ['not a number', { FERRY_STORE_RETRY_DELAY_MS: 'fast' }, 'refused'],
    ['a fraction', { FERRY_STORE_RETRY_DELAY_MS: '1.5' }, 'refused'],
    ['negative', { FERRY_STORE_RETRY_MAX_DELAY_MS: '-1' }, 'refused'],
    ['too long a delay', { FERRY_STORE_RETRY_MAX_DELAY_MS: '600001' }, 'refused'],
  ];
  for (const [title, env, want] of cases) {
    it(title, () => {
      if (want === 'refused') assert.throws(() => retryPolicyFromEnv(env), (err) => err instanceof UserError && /FERRY_STORE_RETRY_/.test(err.message));
      else assert.deepEqual(retryPolicyFromEnv(env), want);
    });
  }
});

describe('a store that outlives the retries', () => {
  it('is an UnavailableError saying to run the command again, with the network error as its cause', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    let attempts = 0;
    const failing = withRetries({ attempts: 3, baseDelayMs: 1, maxDelayMs: 1 }, { isRetryable: () => true, retryAfterMs: () => undefined }, () => {
      attempts++;
      return Promise.reject(refused);
    });
    const err = await failing.catch((e: unknown) => translateS3Error(e, 'save', 'data/ab/x', 's3://bucket'));
    assert.equal(attempts, 3);
    assert.ok(err instanceof UnavailableError);
    assert.equal(err.cause, refused);
    assert.match(err.message, /^saving data\/ab\/x in s3:\/\/bucket: connect ECONNREFUSED .*run the command again once it is reachable\)$/);
  });
});
