// `ferry demo` is the README's first command: the whole offline-seeding flow must run through, every step
// checking itself (two disks, ingest Completed, an incremental after adoption, an identical restore).
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { test } from 'node:test';
import { ferry } from './harness.js';

test('ferry demo runs the whole offline-seeding flow and cleans up after itself', { timeout: 300_000 }, async () => {
  const result = await ferry(['demo'], { env: { FERRY_STATE_DIR: undefined, FERRY_REPOSITORY: undefined, FERRY_PASSWORD: undefined } });
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
  const work = /offline seeding end to end, in (\S+)/.exec(result.stdout)?.[1];
  assert.ok(work, 'the demo names its folder');
  for (const line of [
    /== 6\/12 The copy computer copies staging onto two encrypted disks/,
    /\[datacenter\] \$ ferry datacenter ingest first-seed --disk \S+disk-2 --disk \S+disk-1/,
    /job first-seed: Completed, 2 disks: disk 1 Completed, disk 2 Completed/,
    /this backup sent .* for .* of changes/,
    /the restore is identical/,
    /The whole offline-seeding flow worked/,
  ]) {
    assert.match(result.stdout, line);
  }
  await assert.rejects(stat(work), /ENOENT/, 'the temporary folder is removed');
});
