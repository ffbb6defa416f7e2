import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../core/errors.js';
import { encoderWorkers } from './encoder-workers.js';

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
