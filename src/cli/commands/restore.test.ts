import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../../core/errors.js';
import { DEFAULT_WRITE_BEHIND_MIB, restoreCreatesOnMain, restoreWriteBehind, restoreWriters } from './restore.js';

/** A `UserError` whose one line names `variable=value`. */
function refusal(variable: string, value: string) {
  return (err: unknown): boolean => err instanceof UserError && err.message.startsWith(`${variable}=${value} is not`) && !err.message.includes('\n');
}

describe('restoreWriters', () => {
  it('is one per core up to 2 cores and one fewer than the cores beyond, at least one, unless FERRY_RESTORE_WRITERS names a count from 1 to 64', () => {
    assert.equal(restoreWriters({}, 2), 2);
    assert.equal(restoreWriters({}, 1), 1);
    assert.equal(restoreWriters({}, 0), 1);
    assert.equal(restoreWriters({}, 3), 2);
    assert.equal(restoreWriters({}, 4), 3);
    assert.equal(restoreWriters({ FERRY_RESTORE_WRITERS: '' }, 8), 7);
    assert.equal(restoreWriters({ FERRY_RESTORE_WRITERS: '2' }, 2), 2);
    assert.equal(restoreWriters({ FERRY_RESTORE_WRITERS: '64' }, 2), 64);
    for (const bad of ['0', '65', '-1', '1.5', 'two', ' 2']) assert.throws(() => restoreWriters({ FERRY_RESTORE_WRITERS: bad }, 4), refusal('FERRY_RESTORE_WRITERS', bad), bad);
  });
});

describe('restoreWriteBehind', () => {
  it('is FERRY_RESTORE_WRITE_BEHIND MiB from 0 (off) to 256, else the default (off); anything else is refused', () => {
    const MiB = 1024 * 1024;
    assert.equal(restoreWriteBehind({}), DEFAULT_WRITE_BEHIND_MIB * MiB);
    assert.equal(restoreWriteBehind({ FERRY_RESTORE_WRITE_BEHIND: '0' }), 0);
    assert.equal(restoreWriteBehind({ FERRY_RESTORE_WRITE_BEHIND: '16' }), 16 * MiB);
    assert.equal(restoreWriteBehind({ FERRY_RESTORE_WRITE_BEHIND: '256' }), 256 * MiB);
    for (const bad of ['257', '-1', '1.5', 'off', '4M']) assert.throws(() => restoreWriteBehind({ FERRY_RESTORE_WRITE_BEHIND: bad }), refusal('FERRY_RESTORE_WRITE_BEHIND', bad), bad);
    assert.equal(DEFAULT_WRITE_BEHIND_MIB, 0, 'off unless asked for');
  });
});

describe('restoreCreatesOnMain', () => {
  it('is true unless FERRY_RESTORE_CREATE is writer; another value is refused', () => {
    assert.equal(restoreCreatesOnMain({}), true);
    assert.equal(restoreCreatesOnMain({ FERRY_RESTORE_CREATE: 'main' }), true);
    assert.equal(restoreCreatesOnMain({ FERRY_RESTORE_CREATE: 'writer' }), false);
    for (const bad of ['writers', 'Main', '1']) assert.throws(() => restoreCreatesOnMain({ FERRY_RESTORE_CREATE: bad }), refusal('FERRY_RESTORE_CREATE', bad), bad);
  });
});
