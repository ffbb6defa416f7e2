import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../core/errors.js';
import { STALE_LOCK_MS } from '../engine/repository/lock-staleness.js';
import { lockTimingFromEnv } from './context.js';

describe('lockTimingFromEnv', () => {
  it('reads both times, or neither', () => {
    assert.deepEqual(lockTimingFromEnv({}), {});
    assert.deepEqual(lockTimingFromEnv({ FERRY_LOCK_REFRESH_MS: '200', FERRY_LOCK_STALE_MS: '1000' }), { refreshMs: 200, staleMs: 1000 });
    assert.deepEqual(lockTimingFromEnv({ FERRY_LOCK_STALE_MS: '1000' }), { staleMs: 1000 });
  });

  const refused: [string, NodeJS.ProcessEnv][] = [
    ['a refresh time not below the stale time', { FERRY_LOCK_REFRESH_MS: '1000', FERRY_LOCK_STALE_MS: '1000' }],
    ['a refresh time alone, at the default stale time', { FERRY_LOCK_REFRESH_MS: String(STALE_LOCK_MS) }],
    ['a stale time below the refresh time', { FERRY_LOCK_REFRESH_MS: '5000', FERRY_LOCK_STALE_MS: '10' }],
    ['zero', { FERRY_LOCK_STALE_MS: '0' }],
    ['a fraction', { FERRY_LOCK_REFRESH_MS: '1.5' }],
    ['text', { FERRY_LOCK_REFRESH_MS: 'soon' }],
  ];
  for (const [name, env] of refused) {
    it(`refuses ${name} with a UserError`, () => assert.throws(() => lockTimingFromEnv(env), UserError));
  }
});
