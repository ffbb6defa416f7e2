// Interrupts, closed pipes and read-only repositories, through bin/ferry: SIGINT/SIGTERM at exact points
// of a backup (FERRY_FAILPOINT with FERRY_FAILPOINT_SIGNAL), a second Ctrl-C, `… | head -1`, and a
// repository on a read-only bind mount read with --no-lock.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readdir, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { FERRY_BIN, TEST_PASSWORD, ferry, ferryOk, makeTempDir, type RunResult, type TempDir } from './harness.js';

async function lockFiles(repo: string): Promise<string[]> {
  return (await readdir(join(repo, 'locks')).catch(() => [])).filter((name) => !name.startsWith('.'));
}

async function snapshotCount(repo: string): Promise<number> {
  return (JSON.parse((await ferryOk(['snapshots', '-r', repo, '--json'])).stdout) as unknown[]).length;
}

/** What every stopped command must look like: the code, one line on stderr naming the stop, no stack. */
function assertStopped(result: RunResult, code: number, cause: string): void {
  assert.equal(result.code, code, result.stderr);
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${result.stderr}`);
  assert.match(lines[0]!, new RegExp(`^ferry: interrupted by ${cause}`));
  assert.doesNotMatch(result.stderr, /^\s+at /m);
  assert.doesNotMatch(result.stderr, /warning|error/i);
}

/** Runs `ferry ARGS | head -1` in bash and returns ferry's own exit code, its stderr and head's output. */
function ferryIntoHead(args: readonly string[], env: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', '"$@" | head -1; exit "${PIPESTATUS[0]}"', 'bash', process.execPath, FERRY_BIN, ...args], {
      env: { ...process.env, FERRY_PASSWORD: TEST_PASSWORD, FERRY_INSECURE_TEST_KDF: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** `mib` files of 1 MiB of random (incompressible) bytes. */
async function makeFiles(dir: string, mib: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (let i = 0; i < mib; i++) await writeFile(join(dir, `f${i}.bin`), randomBytes(1024 * 1024));
}

describe('interrupts and closed pipes', () => {
  let tmp: TempDir;
  let repo: string;
  let source: string;

  before(async () => {
    tmp = await makeTempDir();
    repo = join(tmp.path, 'repo');
    source = join(tmp.path, 'src');
    await ferryOk(['init', '-r', repo]);
    await makeFiles(join(source, 'big'), 48);
    await mkdir(join(source, 'many'));
    for (let i = 0; i < 4000; i++) await writeFile(join(source, 'many', `a-file-with-a-rather-long-name-${i}.txt`), `${i}\n`);
  });
  after(() => tmp.cleanup());

  // 36 MiB of new data per run: three packs, so the backup is still reading its sources when the second
  // one is saved.
  const points: { name: string; failpoint: string; signal: 'SIGINT' | 'SIGTERM'; code: number }[] = [
    { name: 'right after the lock is written', failpoint: 'fs-renamed:locks', signal: 'SIGINT', code: 130 },
    { name: 'while the files are read (second pack saved)', failpoint: 'pack-saved:2', signal: 'SIGINT', code: 130 },
    { name: 'while finishing (index file saved)', failpoint: 'index-saved', signal: 'SIGINT', code: 130 },
    { name: 'while the files are read, by SIGTERM', failpoint: 'pack-saved:2', signal: 'SIGTERM', code: 143 },
    { name: 'while finishing, by SIGTERM', failpoint: 'index-saved', signal: 'SIGTERM', code: 143 },
  ];
  for (const point of points) {
    it(`${point.signal} ${point.name}: exit ${point.code}, one line, no snapshot, no lock`, async () => {
      const before = await snapshotCount(repo);
      // New data each time: a run whose data the repository already has would save no pack.
      const fresh = join(tmp.path, `fresh-${randomBytes(4).toString('hex')}`);
      await makeFiles(fresh, 36);
      const env = { FERRY_FAILPOINT: point.failpoint, FERRY_FAILPOINT_SIGNAL: point.signal };
      assertStopped(await ferry(['backup', '-r', repo, fresh, join(source, 'many')], { env }), point.code, point.signal);
      assert.deepEqual(await lockFiles(repo), []);
      assert.equal(await snapshotCount(repo), before);
      await ferryOk(['check', '-r', repo]);
    });
  }

  it('SIGINT at a random moment of a running backup: exit 130, one line, no lock; the next backup works', async () => {
    const child = spawn(process.execPath, [FERRY_BIN, 'backup', '-r', repo, source, '--json'], {
      env: { ...process.env, FERRY_PASSWORD: TEST_PASSWORD, FERRY_INSECURE_TEST_KDF: '1', FERRY_HOSTNAME: 'timed' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    for (const deadline = Date.now() + 20_000; (await lockFiles(repo)).length === 0 && Date.now() < deadline; ) await sleep(5);
    await sleep(Math.floor(Math.random() * 150));
    child.kill('SIGINT');
    const code = await closed;
    // The backup may have finished just before the signal: then it keeps its own code and says nothing.
    if (code !== 0) assertStopped({ code: code ?? -1, stdout: '', stderr }, 130, 'SIGINT');
    assert.deepEqual(await lockFiles(repo), []);
    await ferryOk(['check', '-r', repo]);
    await ferryOk(['backup', '-r', repo, source]);
    await ferryOk(['check', '-r', repo]);
  });

  it('a second SIGINT exits at once, even while the first one waits for a blocked read', async () => {
    // A password file that is a FIFO keeps the command waiting until someone writes it: the first
    // SIGINT cannot end that wait, the second one ends the process.
    const fifo = join(tmp.path, 'password.fifo');
    execFileSync('mkfifo', [fifo]);
    const child = spawn(process.execPath, [FERRY_BIN, 'snapshots', '-r', repo, '--password-file', fifo], {
      env: { ...process.env, FERRY_PASSWORD: undefined, FERRY_INSECURE_TEST_KDF: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
    // Opening the write end without blocking succeeds only once the command has the FIFO open for reading.
    let writer: FileHandle | undefined;
    for (const deadline = Date.now() + 20_000; !writer && Date.now() < deadline; ) {
      writer = await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK).catch(() => undefined);
      if (!writer) await sleep(10);
    }
    assert.ok(writer, 'the command opened its password file');
    try {
      child.kill('SIGINT');
      await sleep(500);
      assert.equal(child.exitCode, null, 'the first SIGINT waits for the blocked read');
      child.kill('SIGINT');
      const started = Date.now();
      // Killed by the signal itself, which a shell reports as exit status 130.
      assert.deepEqual(await closed, { code: null, signal: 'SIGINT' }, stderr);
      assert.ok(Date.now() - started < 5000);
      assert.match(stderr, /SIGINT again, exiting at once/);
      assert.doesNotMatch(stderr, /^\s+at /m);
    } finally {
      await writer.close();
    }
  });

  it('`ferry ls … | head -1` ends quietly with 141 and releases its lock', async () => {
    await ferryOk(['backup', '-r', repo, join(source, 'many')]);
    const result = await ferryIntoHead(['ls', '-r', repo, 'latest']);
    assert.equal(result.stdout.split('\n').filter(Boolean).length, 1);
    assert.equal(result.code, 141, result.stderr);
    assert.equal(result.stderr, '');
    assert.deepEqual(await lockFiles(repo), []);
  });

  it('`ferry backup --json … | head -1` ends quietly with 141 and releases its lock', async () => {
    // New data and 50 status lines a second, so the backup goes on printing after `head` took the first
    // line and exited: a later write meets the closed pipe. (With one line a second, a loaded machine
    // could write the summary into the pipe before `head` was gone, and the backup ended 0.)
    const fresh = join(tmp.path, 'fresh-for-head');
    await makeFiles(fresh, 128);
    const result = await ferryIntoHead(['backup', '-r', repo, '--json', fresh], { FERRY_PROGRESS_FPS: '50' });
    const first = JSON.parse(result.stdout) as { message_type: string };
    assert.equal(first.message_type, 'status');
    assert.equal(result.code, 141, result.stderr);
    assert.equal(result.stderr, '');
    assert.deepEqual(await lockFiles(repo), []);
    await ferryOk(['check', '-r', repo]);
    await ferryOk(['backup', '-r', repo, source]);
  });
});

const isRoot = process.getuid?.() === 0;

describe('a read-only repository', { skip: isRoot ? false : 'a read-only bind mount needs root (CI runs as root)' }, () => {
  let tmp: TempDir;
  let repo: string;
  let readOnly: string;
  let mounted = false;

  before(async () => {
    tmp = await makeTempDir();
    repo = join(tmp.path, 'repo');
    readOnly = join(tmp.path, 'ro');
    const source = join(tmp.path, 'src');
    await mkdir(source);
    await writeFile(join(source, 'a.txt'), 'alpha\n');
    await ferryOk(['init', '-r', repo]);
    await ferryOk(['backup', '-r', repo, source]);
    await mkdir(readOnly);
    execFileSync('mount', ['--bind', repo, readOnly]);
    mounted = true;
    execFileSync('mount', ['-o', 'remount,ro,bind', readOnly]);
  });
  after(async () => {
    if (mounted) execFileSync('umount', [readOnly]);
    await tmp.cleanup();
  });

  it('commands that only read say to add --no-lock, in one line', async () => {
    for (const args of [['snapshots'], ['ls', 'latest'], ['check'], ['restore', 'latest', '--target', join(tmp.path, 'nowhere')]]) {
      const result = await ferry([...args, '-r', readOnly]);
      assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
      assert.match(result.stderr, /read-only.*add --no-lock/);
    }
  });

  it('snapshots, ls, check, diff, stats and restore work with --no-lock', async () => {
    assert.match((await ferryOk(['snapshots', '-r', readOnly, '--no-lock'])).stdout, /1 snapshot\b/);
    assert.match((await ferryOk(['ls', '-r', readOnly, '--no-lock', 'latest'])).stdout, /\/a\.txt\n/);
    await ferryOk(['check', '-r', readOnly, '--no-lock']);
    assert.match((await ferryOk(['diff', '-r', readOnly, '--no-lock', 'latest', 'latest'])).stdout, /Files: +0 new/);
    assert.match((await ferryOk(['stats', '-r', readOnly, '--no-lock'])).stdout, /Snapshots processed: +1/);
    const target = join(tmp.path, 'restored');
    await ferryOk(['restore', '-r', readOnly, '--no-lock', 'latest', '--target', target]);
    assert.ok((await readdir(target, { recursive: true })).some((name) => name.endsWith('a.txt')));
  });

  it('a command that writes says that it needs write access, without suggesting --no-lock', async () => {
    const result = await ferry(['backup', '-r', readOnly, tmp.path]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /read-only; this command changes the repository/);
    assert.doesNotMatch(result.stderr, /--no-lock/);
  });
});
