import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { envChoice, envInteger } from './env-integer.js';
import { UserError } from './errors.js';

describe('envInteger', () => {
  const range = { min: 0, max: 256, what: 'a size in MiB', minMeans: 'off' };

  it('is undefined when unset or empty, else the whole number in range', () => {
    assert.equal(envInteger({}, 'FERRY_X', range), undefined);
    assert.equal(envInteger({ FERRY_X: '' }, 'FERRY_X', range), undefined);
    assert.equal(envInteger({ FERRY_X: '0' }, 'FERRY_X', range), 0);
    assert.equal(envInteger({ FERRY_X: '007' }, 'FERRY_X', range), 7);
    assert.equal(envInteger({ FERRY_X: '256' }, 'FERRY_X', range), 256);
  });

  it('refuses anything else in one line naming the variable, the value and the range', () => {
    for (const bad of ['257', '-1', '1.5', '1e2', ' 4', '4 ', 'four', '9'.repeat(30)]) {
      assert.throws(() => envInteger({ FERRY_X: bad }, 'FERRY_X', range), (err: unknown) => {
        assert.ok(err instanceof UserError);
        assert.ok(err.message.startsWith(`FERRY_X=${bad.slice(0, 40)}`), err.message);
        assert.match(err.message, /is not a size in MiB: set it to a whole number from 0 \(off\) to 256, or unset it$/);
        assert.ok(!err.message.includes('\n'));
        return true;
      }, bad);
    }
  });
});

describe('envChoice', () => {
  it('is undefined when unset or empty, the choice, or a one-line refusal listing the choices', () => {
    assert.equal(envChoice({}, 'FERRY_Y', ['main', 'writer'], 'a thread'), undefined);
    assert.equal(envChoice({ FERRY_Y: '' }, 'FERRY_Y', ['main', 'writer'], 'a thread'), undefined);
    assert.equal(envChoice({ FERRY_Y: 'writer' }, 'FERRY_Y', ['main', 'writer'], 'a thread'), 'writer');
    assert.throws(() => envChoice({ FERRY_Y: 'Writer' }, 'FERRY_Y', ['main', 'writer'], 'a thread'), (err: unknown) => err instanceof UserError && err.message === 'FERRY_Y=Writer is not a thread: set it to main or writer, or unset it');
    assert.throws(() => envChoice({ FERRY_Y: 'x' }, 'FERRY_Y', ['a', 'b', 'c'], 'a letter'), (err: unknown) => err instanceof UserError && err.message === 'FERRY_Y=x is not a letter: set it to one of a, b, c, or unset it');
  });
});
