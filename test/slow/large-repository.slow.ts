// A repository of 20 million blobs (5 TB at 256 KiB): its index files are generated (test/slow/
// write-synthetic-index.ts, no pack data), beside a small real backup. A no-change backup and a one-file
// restore against it must stay under 1 GiB of peak RSS; their times and bytes per blob are printed.
// Run by `npm run test:slow` (CI runs it after `npm test`); FERRY_SLOW_BLOBS sets another size.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { siblingModule } from '../../src/core/sibling-module.js';
import { syntheticIndexFiles } from '../../src/engine/testing/synthetic-index.js';
import { Repository } from '../../src/engine/repository/repository.js';
import { FsStorage } from '../../src/storage/fs/fs-storage.js';
import { FERRY_BIN, ferryOk, lastJson, makeTempDir, TEST_PASSWORD, type TempDir } from '../e2e/harness.js';

const BLOBS = Number(process.env.FERRY_SLOW_BLOBS ?? 20_000_000);
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const WRITER = siblingModule(import.meta.url, 'write-synthetic-index');

interface Timed {
  readonly stdout: string;
  readonly wall: number;
  readonly user: number;
  readonly system: number;
  /** Peak resident set, bytes. */
  readonly rss: number;
}

function run(command: string, args: readonly string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolvePromise(stdout) : reject(new Error(`${command} ${args.join(' ')} exited ${code}\n${stdout}\n${stderr}`))));
  });
}

/** Runs bin/ferry under /usr/bin/time: wall, CPU and peak RSS of the one process. */
async function timedFerry(dir: string, args: readonly string[]): Promise<Timed> {
  const report = join(dir, 'time.txt');
  const stdout = await run('/usr/bin/time', ['-o', report, '-f', '%e %U %S %M', process.execPath, FERRY_BIN, ...args], {
    FERRY_PASSWORD: TEST_PASSWORD,
    FERRY_INSECURE_TEST_KDF: '1',
  });
  const [wall, user, system, kib] = (await readFile(report, 'utf8')).trim().split('\n').pop()!.split(' ').map(Number);
  return { stdout, wall: wall!, user: user!, system: system!, rss: kib! * 1024 };
}

const describeRun = (name: string, t: Timed, baseline: Timed): string =>
  `${name}: ${t.wall.toFixed(1)} s wall, ${t.user.toFixed(1)} s user + ${t.system.toFixed(1)} s system, peak RSS ${(t.rss / MiB).toFixed(0)} MiB ` +
  `(${(t.rss / BLOBS).toFixed(1)} bytes a blob; ${((t.rss - baseline.rss) / BLOBS).toFixed(1)} above the same run on the small repository)`;

describe(`a repository of ${BLOBS.toLocaleString('en')} blobs`, () => {
  let tmp: TempDir;
  let repo: string;
  let source: string;
  let small: { backup: Timed; restore: Timed };
  const big = randomBytes(6 * MiB);

  const backup = (): Promise<Timed> => timedFerry(tmp.path, ['backup', '-r', repo, source, '--json']);
  const restoreOne = async (target: string): Promise<Timed> => {
    const timed = await timedFerry(tmp.path, ['restore', '-r', repo, 'latest', '--target', target, '--include', join(source, 'data', 'big.bin')]);
    assert.deepEqual(await readFile(join(target, source, 'data', 'big.bin')), big);
    return timed;
  };

  before(async () => {
    tmp = await makeTempDir('ferry-slow-');
    repo = join(tmp.path, 'repo');
    source = join(tmp.path, 'src');
    await mkdir(join(source, 'data'), { recursive: true });
    await writeFile(join(source, 'data', 'big.bin'), big);
    for (let i = 0; i < 20; i++) await writeFile(join(source, `note-${i}.txt`), `note ${i}\n`.repeat(100));
    await ferryOk(['init', '-r', repo]);
    await ferryOk(['backup', '-r', repo, source]);
    small = { backup: await backup(), restore: await restoreOne(join(tmp.path, 'restore-small')) };

    const started = performance.now();
    const repository = await Repository.open(new FsStorage(repo), TEST_PASSWORD, { clock: { now: () => Date.now() }, hostname: 'slow-test', username: 'tester' });
    const key = repository.key.encryptionKey;
    const files = syntheticIndexFiles({ blobs: BLOBS });
    const workers = Math.max(1, Math.min(availableParallelism(), 4));
    await Promise.all(
      Array.from({ length: workers }, (_, w) => {
        const from = Math.floor((files * w) / workers);
        const to = Math.floor((files * (w + 1)) / workers);
        return run(process.execPath, [...(WRITER.tsx ? ['--import', 'tsx'] : []), fileURLToPath(WRITER.url), repo, Buffer.from(key).toString('hex'), String(BLOBS), String(from), String(to)]);
      }),
    );
    console.log(`generated ${files} index files for ${BLOBS} blobs in ${((performance.now() - started) / 1000).toFixed(1)} s on ${workers} processes`);
  });
  after(() => tmp.cleanup());

  it('a no-change backup stays under 1 GiB of peak RSS', async () => {
    const timed = await backup();
    console.log(describeRun('no-change backup', timed, small.backup));
    const summary = lastJson<{ files_new: number; files_changed: number; data_added: number }>(timed.stdout);
    assert.equal(summary.files_new + summary.files_changed, 0);
    assert.ok(summary.data_added < 64 * 1024, `added ${summary.data_added} bytes`);
    assert.ok(timed.rss < GiB, `peak RSS ${timed.rss} bytes`);
    // A sanity check that the run did read the large index (else the bound above proves nothing).
    assert.ok(timed.rss - small.backup.rss > 8 * BLOBS, 'the backup did not hold the large index in memory');
  });

  it('a one-file restore stays under 1 GiB of peak RSS', async () => {
    const timed = await restoreOne(join(tmp.path, 'restore-big'));
    console.log(describeRun('one-file restore', timed, small.restore));
    assert.ok(timed.rss < GiB, `peak RSS ${timed.rss} bytes`);
    assert.ok(timed.rss - small.restore.rss > 8 * BLOBS, 'the restore did not hold the large index in memory');
  });
});
