import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FERRY_BIN, ferry, ferryOk, makeTempDir, runProgram, TEST_PASSWORD, type TempDir } from './harness.js';

/**
 * FERRY_YOUNG_GENERATION_MIB through bin/ferry: V8's `--trace-gc-verbose` prints the young generation's
 * committed size after each collection. A backup of a few thousand files grows the main thread's to 8 MiB
 * when V8 sizes it (0), and no further than 4 MiB with a cap of 4. It stores less than the encoder workers
 * start at: a worker's start may let the young generation double once (see capYoungGeneration).
 */
describe('FERRY_YOUNG_GENERATION_MIB', () => {
  let tmp: TempDir;
  let source: string;

  before(async () => {
    tmp = await makeTempDir();
    source = join(tmp.path, 'src');
    await mkdir(source);
    await Promise.all(Array.from({ length: 3000 }, (_, i) => writeFile(join(source, `f${i}.txt`), `file ${i}\n`.repeat(100 + (i % 20)))));
  });
  after(() => tmp.cleanup());

  /** A backup into a new repository; returns the main isolate's young generation after each collection, in KiB, and the largest. */
  async function largestYoungGeneration(cap: string): Promise<{ largest: number; sizes: number[] }> {
    const repo = join(tmp.path, `repo-${cap}`);
    await ferryOk(['init', '-r', repo]);
    const run = await runProgram(
      process.execPath,
      ['--trace-gc-verbose', FERRY_BIN, 'backup', '-r', repo, source],
      { FERRY_PASSWORD: TEST_PASSWORD, FERRY_INSECURE_TEST_KDF: '1' },
      { env: { FERRY_YOUNG_GENERATION_MIB: cap } },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /snapshot [0-9a-f]+ saved/);
    // Lines start with [pid:isolate]; the main isolate is the first to collect.
    const lines = run.stdout.split('\n').filter((line) => line.includes('New space,'));
    const main = /^\[[0-9]+:0x[0-9a-f]+\]/.exec(lines[0] ?? '')?.[0];
    assert.ok(main, 'no collection traced');
    const sizes = lines.filter((line) => line.startsWith(main)).map((line) => Number(/committed:\s*([0-9]+)/.exec(line)?.[1]));
    return { largest: Math.max(...sizes), sizes };
  }

  it('caps the main thread young generation; 0 leaves it to V8; a bad value is one line', async () => {
    const v8Sized = await largestYoungGeneration('0');
    assert.ok(v8Sized.largest > 4096, `V8 alone: ${v8Sized.sizes.join(' ')} KiB (the backup must grow it for this test to mean anything)`);
    const capped = await largestYoungGeneration('4');
    assert.ok(capped.largest <= 4096, `capped at 4 MiB: ${capped.sizes.join(' ')} KiB`);

    const bad = await ferry(['backup', '-r', join(tmp.path, 'repo-0'), source], { env: { FERRY_YOUNG_GENERATION_MIB: 'lots' } });
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /^ferry: FERRY_YOUNG_GENERATION_MIB=lots is not a size in MiB/);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
  });
});
