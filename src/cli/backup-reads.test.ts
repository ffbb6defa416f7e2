import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../core/errors.js';
import { largeFileReads } from './backup-reads.js';

test('large-file reads: unset leaves the archiver its default; 1 to 16; anything else names the variable', () => {
  assert.equal(largeFileReads({}), undefined);
  assert.equal(largeFileReads({ FERRY_LARGE_FILE_READS: '' }), undefined);
  assert.equal(largeFileReads({ FERRY_LARGE_FILE_READS: '1' }), 1);
  assert.equal(largeFileReads({ FERRY_LARGE_FILE_READS: '2' }), 2);
  for (const raw of ['0', '17', '-1', '1.5', 'two']) {
    assert.throws(() => largeFileReads({ FERRY_LARGE_FILE_READS: raw }), (err: unknown) => err instanceof UserError && err.message.includes('FERRY_LARGE_FILE_READS'), raw);
  }
});
