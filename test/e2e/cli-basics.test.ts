import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FERRY_BIN, ferry, ferryOk, lastJson, makeTempDir, TEST_PASSWORD, type TempDir } from './harness.js';

describe('CLI basics', () => {
  let tmp: TempDir;
  let repo: string;
  let source: string;

  before(async () => {
    tmp = await makeTempDir();
    repo = join(tmp.path, 'repo');
    source = join(tmp.path, 'src');
    await mkdir(join(source, 'cache'), { recursive: true });
    await mkdir(join(source, 'keep'), { recursive: true });
    await writeFile(join(source, 'keep', 'a.txt'), 'a');
    await writeFile(join(source, 'keep', 'b.tmp'), 'b');
    await writeFile(join(source, 'cache', 'c.txt'), 'c');
  });
  after(() => tmp.cleanup());

  it('init --json, then FERRY_REPOSITORY instead of -r', async () => {
    const init = lastJson<{ message_type: string; id: string }>((await ferryOk(['init', '-r', repo, '--json'])).stdout);
    assert.equal(init.message_type, 'initialized');
    assert.match(init.id, /^[0-9a-f]{64}$/);
    const none = await ferry(['snapshots'], { env: { FERRY_REPOSITORY: repo } });
    assert.equal(none.code, 0);
    assert.match(none.stdout, /0 snapshots/);
    const latest = await ferry(['restore', 'latest', '--target', join(tmp.path, 'x')], { env: { FERRY_REPOSITORY: repo } });
    assert.equal(latest.code, 1);
    assert.match(latest.stderr, /no snapshots yet/);
  });

  it('init --compression-level: the new repository keeps its level; a level out of range is refused', async () => {
    const text = join(tmp.path, 'levels');
    await mkdir(text);
    // Text a fast level compresses worse than a slow one: words drawn from a small vocabulary.
    const words = Array.from({ length: 400 }, (_, i) => `w${(i * 7919) % 1009}x${i % 13}`);
    const random = randomBytes(60_000);
    await writeFile(join(text, 'doc.txt'), Array.from(random, (byte, i) => words[(byte * 31 + i) % words.length]).join(' '));
    const added = async (level: string): Promise<number> => {
      const levelRepo = join(tmp.path, `repo-level-${level}`);
      await ferryOk(['init', '-r', levelRepo, '--compression-level', level]);
      await ferryOk(['backup', '-r', levelRepo, text]);
      return sizeOfTree(join(levelRepo, 'data'));
    };
    const fastest = await added('1');
    const smallest = await added('19');
    assert.ok(smallest < fastest * 0.97, `level 19 stores ${smallest} bytes, level 1 ${fastest}`);
    for (const bad of ['0', '20', 'max']) {
      const refused = await ferry(['init', '-r', join(tmp.path, `repo-bad-${bad}`), '--compression-level', bad]);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /zstd level from 1 \(fastest\) to 19 \(smallest\)/);
      await assert.rejects(stat(join(tmp.path, `repo-bad-${bad}`)), 'nothing was created');
    }
  });

  it('backup with --tag and --exclude; snapshots --json in the documented shape', async () => {
    const result = await ferryOk(['backup', '-r', repo, source, '--tag', 'nightly', '--tag', 'test', '--exclude', '*.tmp', '--exclude', join(source, 'cache'), '--json']);
    const summary = lastJson<Record<string, unknown>>(result.stdout);
    assert.equal(summary.message_type, 'summary');
    for (const field of ['snapshot_id', 'data_added', 'files_new', 'files_changed', 'files_unmodified', 'total_bytes_processed', 'total_duration']) {
      assert.ok(field in summary, `summary has ${field}`);
    }
    assert.equal(summary.files_new, 1, 'only keep/a.txt is backed up');
    const list = JSON.parse((await ferryOk(['snapshots', '-r', repo, '--json'])).stdout) as Record<string, unknown>[];
    assert.equal(list.length, 1);
    assert.equal(list[0]!.id, summary.snapshot_id);
    assert.deepEqual(list[0]!.tags, ['nightly', 'test']);
    assert.deepEqual(list[0]!.paths, [source]);
    assert.equal(typeof list[0]!.hostname, 'string');
    assert.ok(!Number.isNaN(Date.parse(list[0]!.time as string)));
    const ls = await ferryOk(['ls', '-r', repo, (summary.snapshot_id as string).slice(0, 8), source, '--recursive']);
    assert.deepEqual(ls.stdout.trim().split('\n'), [`${source}/`, `${source}/keep/`, `${source}/keep/a.txt`]);
  });

  it('a non-terminal stdout gets no progress animation', async () => {
    const result = await ferryOk(['backup', '-r', repo, source]);
    assert.ok(!result.stdout.includes("\r") && !result.stdout.includes("\u001b["), "no carriage returns or escape sequences");
    assert.match(result.stdout, /Files: +2 new, 0 changed, 1 unmodified/);
    assert.match(result.stdout, /Duration:/);
  });

  it('unknown snapshot ids and ambiguous input are clear errors', async () => {
    const bad = await ferry(['restore', '-r', repo, 'ffffffff', '--target', join(tmp.path, 'y')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /no snapshot ffffffff/);
    const notId = await ferry(['ls', '-r', repo, '../etc']);
    assert.match(notId.stderr, /is not a snapshot id/);
  });

  it('SIGINT during a backup exits 130, writes no snapshot and leaves no lock', async () => {
    const big = join(tmp.path, 'big');
    await mkdir(big);
    for (let i = 0; i < 8; i++) await writeFile(join(big, `f${i}`), randomBytes(32 * 1024 * 1024));
    const before = JSON.parse((await ferryOk(['snapshots', '-r', repo, '--json'])).stdout) as unknown[];
    const child = spawn(process.execPath, [FERRY_BIN, 'backup', '-r', repo, big, '--json'], {
      env: { ...process.env, FERRY_PASSWORD: TEST_PASSWORD },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Interrupt once the backup is under way: its lock object appears right before it starts reading.
    const deadline = Date.now() + 10_000;
    while ((await readdir(join(repo, 'locks'))).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 130, stderr);
    assert.match(stderr, /interrupted/);
    assert.deepEqual(await readdir(join(repo, 'locks')), []);
    const afterList = JSON.parse((await ferryOk(['snapshots', '-r', repo, '--json'])).stdout) as unknown[];
    assert.equal(afterList.length, before.length);
    await ferryOk(['check', '-r', repo]);
    assert.ok((await stat(repo)).isDirectory());
  });
});

/** Bytes of the files in and below `dir`. */
async function sizeOfTree(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}
