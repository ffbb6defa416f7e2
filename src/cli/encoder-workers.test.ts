import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../core/errors.js';
import { encoderStall, encoderWorkers } from './encoder-workers.js';

test('encoder workers: one per core, at least one, or the variable', () => {
  const cases: [NodeJS.ProcessEnv, number, number][] = [
    [{}, 0, 1],
    [{}, 1, 1],
    [{}, 2, 2],
    [{}, 8, 8],
    [{ FERRY_ENCODER_WORKERS: '' }, 4, 4],
    [{ FERRY_ENCODER_WORKERS: '1' }, 2, 1],
    [{ FERRY_ENCODER_WORKERS: '2' }, 2, 2],
    [{ FERRY_ENCODER_WORKERS: '64' }, 2, 64],
  ];
  for (const [env, cores, expected] of cases) assert.equal(encoderWorkers(env, cores), expected, JSON.stringify({ env, cores }));
});

test('encoder workers: a variable that is not 1 to 64 is a user error naming it', () => {
  for (const raw of ['0', '65', '-1', '1.5', 'two', ' 2']) {
    assert.throws(() => encoderWorkers({ FERRY_ENCODER_WORKERS: raw }, 2), (err: unknown) => err instanceof UserError && err.message.includes('FERRY_ENCODER_WORKERS'), raw);
  }
});

test('encoder stall: unset leaves the engine its default; milliseconds from 0 (all workers at once) to 600000', () => {
  assert.equal(encoderStall({}), undefined);
  assert.equal(encoderStall({ FERRY_ENCODER_STALL_MS: '' }), undefined);
  assert.equal(encoderStall({ FERRY_ENCODER_STALL_MS: '0' }), 0);
  assert.equal(encoderStall({ FERRY_ENCODER_STALL_MS: '250' }), 250);
  for (const raw of ['-1', '1.5', 'soon', '600001']) {
    assert.throws(() => encoderStall({ FERRY_ENCODER_STALL_MS: raw }), (err: unknown) => err instanceof UserError && err.message.includes('FERRY_ENCODER_STALL_MS'), raw);
  }
});
