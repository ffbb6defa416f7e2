import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_WRITE_BEHIND_MIB, restoreCreatesOnMain, restoreWriteBehind, restoreWriters } from './restore.js';

describe('restoreWriters', () => {
  it('is one fewer than the cores, at least one, unless FERRY_RESTORE_WRITERS names a count from 1 to 64', () => {
    assert.equal(restoreWriters(undefined, 2), 1);
    assert.equal(restoreWriters(undefined, 1), 1);
    assert.equal(restoreWriters(undefined, 8), 7);
    assert.equal(restoreWriters('2', 2), 2);
    assert.equal(restoreWriters('64', 2), 64);
    for (const ignored of ['0', '65', '-1', '1.5', 'two', '']) assert.equal(restoreWriters(ignored, 4), 3, ignored);
  });
});

describe('restoreWriteBehind', () => {
  it('is FERRY_RESTORE_WRITE_BEHIND MiB from 0 (off) to 256, else the default (off)', () => {
    const MiB = 1024 * 1024;
    assert.equal(restoreWriteBehind(undefined), DEFAULT_WRITE_BEHIND_MIB * MiB);
    assert.equal(restoreWriteBehind('0'), 0);
    assert.equal(restoreWriteBehind('16'), 16 * MiB);
    assert.equal(restoreWriteBehind('256'), 256 * MiB);
    for (const ignored of ['257', '-1', '1.5', 'off', '']) assert.equal(restoreWriteBehind(ignored), DEFAULT_WRITE_BEHIND_MIB * MiB, ignored);
    assert.equal(DEFAULT_WRITE_BEHIND_MIB, 0, 'off unless asked for');
  });
});

describe('restoreCreatesOnMain', () => {
  it('is true unless FERRY_RESTORE_CREATE is writer', () => {
    assert.equal(restoreCreatesOnMain(undefined), true);
    assert.equal(restoreCreatesOnMain('main'), true);
    assert.equal(restoreCreatesOnMain('writer'), false);
  });
});
