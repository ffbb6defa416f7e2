import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PAUSE_AT_ENV, PAUSE_DIR_ENV, pauserFromEnv } from './pause-points.js';

describe('test-only pause points', () => {
  it('are inert unless the environment names one, and refuse an unknown name', () => {
    assert.equal(pauserFromEnv({}), undefined);
    assert.equal(pauserFromEnv({ [PAUSE_AT_ENV]: 'sweep-job-changed' }), undefined, 'no folder: inert');
    assert.throws(() => pauserFromEnv({ [PAUSE_AT_ENV]: 'nowhere', [PAUSE_DIR_ENV]: '/tmp' }), /names no pause point/);
  });

  it('wait at the named point once, until the go file appears; other points pass', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-pause-'));
    try {
      const pause = pauserFromEnv({ [PAUSE_AT_ENV]: 'adoption-object-copied', [PAUSE_DIR_ENV]: dir })!;
      await pause('sweep-job-changed');
      let passed = false;
      const waiting = pause('adoption-object-copied').then(() => (passed = true));
      while ((await readFile(join(dir, 'adoption-object-copied.reached'), 'utf8').catch(() => '')) === '') await sleep(10);
      await sleep(60);
      assert.equal(passed, false, 'still waiting');
      await writeFile(join(dir, 'adoption-object-copied.go'), '');
      await waiting;
      await rm(join(dir, 'adoption-object-copied.go'));
      await pause('adoption-object-copied');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
