import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { restoreWriters } from './restore.js';

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
