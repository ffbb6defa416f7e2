import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FERRY_BIN, ferry, ferryOk, makeTempDir, runProgram, TEST_PASSWORD, type TempDir } from './harness.js';
import { callApi, startServe } from './service-harness.js';

/**
 * FERRY_GC_MARKING through bin/ferry. Under V8's --stress-incremental-marking every full collection V8
 * may start incrementally does; with atomic marking (a backup's default) none can once the command runs,
 * so what is left are the starts while the CLI loads.
 */
describe('FERRY_GC_MARKING', () => {
  let tmp: TempDir;
  let source: string;

  before(async () => {
    tmp = await makeTempDir();
    source = join(tmp.path, 'src');
    await mkdir(source);
    await Promise.all(Array.from({ length: 1000 }, (_, i) => writeFile(join(source, `f${i}.txt`), `file ${i}\n`)));
  });
  after(() => tmp.cleanup());

  /** A backup into a new repository with V8 tracing its marking; returns the incremental marking starts. */
  async function markingStarts(env: Record<string, string | undefined>): Promise<number> {
    const repo = join(tmp.path, `repo-${env.FERRY_GC_MARKING ?? 'default'}`);
    await ferryOk(['init', '-r', repo]);
    const run = await runProgram(
      process.execPath,
      ['--stress-incremental-marking', '--trace-incremental-marking', FERRY_BIN, 'backup', '-r', repo, source],
      { FERRY_PASSWORD: TEST_PASSWORD, FERRY_INSECURE_TEST_KDF: '1' },
      { env },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /snapshot [0-9a-f]+ saved/);
    return run.stdout.split('\n').filter((line) => line.includes('[IncrementalMarking] Start marking')).length;
  }

  it('a backup marks atomically by default, incrementally when the variable says so; a bad value is one line', async () => {
    const atomic = await markingStarts({ FERRY_GC_MARKING: undefined });
    const incremental = await markingStarts({ FERRY_GC_MARKING: 'incremental' });
    // Measured: ~25 against ~160.
    assert.ok(incremental > 2 * atomic, `incremental marking started ${incremental} times, atomic ${atomic}`);

    const bad = await ferry(['backup', '-r', join(tmp.path, 'repo-default'), source], { env: { FERRY_GC_MARKING: 'sometimes' } });
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /^ferry: FERRY_GC_MARKING=sometimes is not a way of marking: set it to atomic or incremental/);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
  });
});

/**
 * `ferry serve` marks atomically too (docs/PERFORMANCE.md, "The trip's copies, fifth round": incremental
 * marking started a full collection after every other one while it received uploads). Same probe as above:
 * a service under --stress-incremental-marking answers the same requests, by default and when told to mark
 * incrementally; what the default leaves are the starts while the CLI loads.
 */
describe('FERRY_GC_MARKING in ferry serve', () => {
  let tmp: TempDir;

  before(async () => (tmp = await makeTempDir()));
  after(() => tmp.cleanup());

  async function markingStarts(name: string, env: Record<string, string>): Promise<number> {
    const dataDir = join(tmp.path, name);
    const serve = await startServe(dataDir, [], env, ['--stress-incremental-marking', '--trace-incremental-marking']);
    try {
      const admin = (await readFile(join(dataDir, 'admin.token'), 'utf8')).trim();
      for (let i = 0; i < 40; i++) await callApi(serve.url, admin, 'GET', '/v1/tenants');
    } finally {
      const stopped = await serve.stop();
      assert.equal(stopped.code, 0, stopped.stderr);
    }
    return serve.output().stdout.split('\n').filter((line) => line.includes('[IncrementalMarking] Start marking')).length;
  }

  it('marks atomically by default, incrementally when the variable says so', async () => {
    const atomic = await markingStarts('default', {});
    const incremental = await markingStarts('incremental', { FERRY_GC_MARKING: 'incremental' });
    assert.ok(incremental > 2 * atomic, `incremental marking started ${incremental} times, atomic ${atomic}`);
  });
});
