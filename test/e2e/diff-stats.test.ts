// `ferry diff` and `ferry stats` against restic (the oracle, installed in CI): the same two backups of one
// tree by both tools must give the same change lines (text, --metadata, --json), the same statistics
// apart from bytes (trees are encoded differently), and the same stats counts where the modes count the
// same things. Then the cases restic does not cover: a damaged snapshot file, a subfolder, a bad ref.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, cp, link, mkdir, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { flipBit } from './damage.js';
import { ferry, ferryOk, makeTempDir, type RunResult, type TempDir } from './harness.js';

const RESTIC = '/usr/bin/restic';

function restic(args: readonly string[], repo: string): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const env = { ...process.env, RESTIC_PASSWORD: 'restic-oracle', RESTIC_REPOSITORY: repo };
    const child = spawn(RESTIC, ['--no-cache', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`restic ${args.join(' ')} exited ${code}\n${stderr}`));
      else resolvePromise({ code: 0, stdout, stderr });
    });
  });
}

/** The change lines of a text diff (without the header and the statistics). */
function changeLines(stdout: string): string[] {
  return stdout.split('\n').filter((line) => /^[-+MTU?]+ +\//.test(line));
}

/** The JSON lines of `diff --json`, the statistics without bytes and the snapshot names. */
function jsonDiff(stdout: string): unknown[] {
  return stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .map((m) => {
      if (m.message_type !== 'statistics') return m;
      const { source_snapshot: _s, target_snapshot: _t, ...rest } = m as Record<string, Record<string, unknown>>;
      return { ...rest, added: { ...rest.added, bytes: 0 }, removed: { ...rest.removed, bytes: 0 } };
    });
}

/** A tree with every kind of entry restic and Ferry both record; small files, one chunk each. */
async function buildTree(src: string): Promise<void> {
  await mkdir(join(src, 'docs', 'old', 'deep'), { recursive: true });
  await mkdir(join(src, 'keep'));
  await writeFile(join(src, 'a.txt'), 'alpha\n');
  await writeFile(join(src, 'b.txt'), 'bravo\n');
  await writeFile(join(src, 'empty'), '');
  await writeFile(join(src, 'docs', 'readme'), 'read me\n');
  await writeFile(join(src, 'docs', 'old', 'deep', 'x'), 'x\n');
  await writeFile(join(src, 'keep', 'same'), 'unchanged\n');
  await writeFile(join(src, 'keep', 'copy'), 'alpha\n');
  await writeFile(join(src, 'to-link'), 'becomes a link\n');
  await symlink('a.txt', join(src, 'link'));
  await link(join(src, 'b.txt'), join(src, 'hard'));
  execFileSync('mkfifo', [join(src, 'pipe')]);
}

/** Content changed, removed, added, retyped, metadata changed. */
async function changeTree(src: string): Promise<void> {
  await writeFile(join(src, 'a.txt'), 'alpha, changed\n');
  await rm(join(src, 'docs', 'old'), { recursive: true });
  await rm(join(src, 'pipe'));
  await mkdir(join(src, 'new', 'sub'), { recursive: true });
  await writeFile(join(src, 'new', 'sub', 'n'), 'new\n');
  await rm(join(src, 'to-link'));
  await symlink('b.txt', join(src, 'to-link'));
  await rm(join(src, 'link'));
  await mkdir(join(src, 'link'));
  await chmod(join(src, 'docs', 'readme'), 0o600);
  await utimes(join(src, 'keep'), new Date('2001-01-01'), new Date('2001-01-01'));
}

describe('diff and stats, with restic as the oracle', () => {
  let tmp: TempDir;
  let src: string;
  let ferryRepo: string;
  let resticRepo: string;
  const ferryIds: string[] = [];
  const resticIds: string[] = [];

  before(async () => {
    tmp = await makeTempDir();
    src = join(tmp.path, 'src');
    ferryRepo = join(tmp.path, 'ferry-repo');
    resticRepo = join(tmp.path, 'restic-repo');
    await mkdir(src);
    await buildTree(src);
    await ferryOk(['init', '-r', ferryRepo]);
    await restic(['init'], resticRepo);
    for (let round = 0; round < 2; round++) {
      if (round === 1) await changeTree(src);
      await ferryOk(['backup', '-r', ferryRepo, src]);
      await restic(['backup', src], resticRepo);
    }
    const listed = JSON.parse((await ferryOk(['snapshots', '-r', ferryRepo, '--json'])).stdout) as { id: string }[];
    ferryIds.push(...listed.map((s) => s.id.slice(0, 8)));
    const resticListed = JSON.parse((await restic(['snapshots', '--json'], resticRepo)).stdout) as { short_id: string }[];
    resticIds.push(...resticListed.map((s) => s.short_id));
  });
  after(() => tmp.cleanup());

  it('lists the same changes as restic, with and without --metadata', async () => {
    for (const extra of [[], ['--metadata']]) {
      const ours = await ferryOk(['diff', '-r', ferryRepo, ...extra, ferryIds[0]!, ferryIds[1]!]);
      const theirs = await restic(['diff', ...extra, resticIds[0]!, resticIds[1]!], resticRepo);
      assert.ok(changeLines(ours.stdout).length >= 8, ours.stdout);
      assert.deepEqual(changeLines(ours.stdout), changeLines(theirs.stdout), extra.join(' '));
      assert.match(ours.stdout, new RegExp(`^comparing snapshot ${ferryIds[0]} to ${ferryIds[1]}:\\n\\n`));
      assert.match(ours.stdout, /\nFiles: +\d+ new, +\d+ removed, +\d+ changed\nDirs: .*\nOthers: .*\nData Blobs: .*\nTree Blobs: .*\n {2}Added: .*\n {2}Removed: .*\n$/);
    }
  });

  it('--json: the same change lines and statistics as restic, bytes aside', async () => {
    const ours = await ferryOk(['diff', '-r', ferryRepo, '--json', ferryIds[0]!, 'latest']);
    // restic 0.14's diff takes ids only.
    const theirs = await restic(['diff', '--json', resticIds[0]!, resticIds[1]!], resticRepo);
    assert.deepEqual(jsonDiff(ours.stdout), jsonDiff(theirs.stdout));
    const statistics = JSON.parse(ours.stdout.trim().split('\n').pop()!) as { source_snapshot: string; target_snapshot: string; added: { bytes: number } };
    assert.deepEqual([statistics.source_snapshot, statistics.target_snapshot], [ferryIds[0], 'latest']);
    assert.ok(statistics.added.bytes > 0);
  });

  it('stats: the counts and sizes restic gives where the modes count the same things', async () => {
    const cases = ['restore-size', 'files-by-contents', 'blobs-per-file', 'raw-data'].flatMap((mode) => [[mode], [mode, 'latest']]);
    // Side by side: each run only reads (restic takes a shared lock, ferry none with --no-lock).
    await Promise.all(
      cases.map(async ([mode, ...refs]) => {
        const ours = JSON.parse((await ferryOk(['stats', '-r', ferryRepo, '--no-lock', '--json', '--mode', mode!, ...refs])).stdout) as Record<string, number>;
        const theirs = JSON.parse((await restic(['stats', '--json', '--mode', mode!, ...refs], resticRepo)).stdout) as Record<string, number>;
        const label = `${mode} ${refs.join(' ')}`;
        assert.equal(ours.snapshots_count, theirs.snapshots_count, label);
        if (mode === 'blobs-per-file' && refs.length === 0) {
          // Over several snapshots the paths counted depend on which snapshot is walked first (a content
          // counts at the first path it is seen): restic walks them in the order the backend lists them.
          assert.ok(ours.total_file_count! > 0 && ours.total_blob_count! > 0, label);
        } else if (mode === 'raw-data') {
          // Bytes in packs depend on the format; the blobs are the same ones.
          assert.equal(ours.total_blob_count, theirs.total_blob_count, label);
          assert.ok(ours.total_size! > 0 && ours.total_uncompressed_size! > 0, label);
        } else {
          assert.equal(ours.total_size, theirs.total_size, label);
          assert.equal(ours.total_file_count, theirs.total_file_count, label);
          assert.equal(ours.total_blob_count, theirs.total_blob_count, label);
        }
      }),
    );
    const text = await ferryOk(['stats', '-r', ferryRepo, '--no-lock']);
    assert.match(text.stdout, /^Stats in restore-size mode:\n +Snapshots processed: +2\n +Total File Count: +\d+\n +Total Size: +\d/);
  });

  it('A:path compares folders of the snapshots; an unknown mode or folder is one line and exit 1', async () => {
    const ours = await ferryOk(['diff', '-r', ferryRepo, `${ferryIds[0]}:${src}/docs`, `latest:${src}/new`]);
    assert.deepEqual(changeLines(ours.stdout), ['-    /old/', '-    /old/deep/', '-    /old/deep/x', '-    /readme', '+    /sub/', '+    /sub/n']);
    const missing = await ferry(['diff', '-r', ferryRepo, `latest:${src}/nowhere`, 'latest']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^ferry: .*\/nowhere is not in the snapshot/);
    const mode = await ferry(['stats', '-r', ferryRepo, '--mode', 'sizes']);
    assert.equal(mode.code, 1);
    assert.match(mode.stderr, /expected one of restore-size, files-by-contents, raw-data, blobs-per-file/);
  });

  it('a damaged snapshot file: stats counts the others and names it (exit 3); diff of it says what to do', async () => {
    const copy = join(tmp.path, 'damaged-copy');
    await cp(ferryRepo, copy, { recursive: true });
    const victim = (await readdir(join(copy, 'snapshots'))).find((name) => name.startsWith(ferryIds[0]!))!;
    await flipBit(join(copy, 'snapshots', victim));
    const stats = await ferry(['stats', '-r', copy, '--json']);
    assert.equal(stats.code, 3, stats.stderr);
    assert.equal((JSON.parse(stats.stdout) as { snapshots_count: number }).snapshots_count, 1);
    assert.match(stats.stderr, new RegExp(`snapshot file snapshots/${victim} cannot be read.*ferry forget`));
    const diff = await ferry(['diff', '-r', copy, victim.slice(0, 8), 'latest']);
    assert.equal(diff.code, 1);
    assert.match(diff.stderr, /cannot be read.*choose another snapshot/);
    assert.equal(diff.stderr.trim().split('\n').length, 1, diff.stderr);
  });

  it('trees that cannot be read: named on stderr with what to do, the rest reported, exit 3', async () => {
    const copy = join(tmp.path, 'no-packs-copy');
    await cp(ferryRepo, copy, { recursive: true });
    await rm(join(copy, 'data'), { recursive: true });
    await mkdir(join(copy, 'data'));
    const diff = await ferry(['diff', '-r', copy, ferryIds[0]!, 'latest']);
    assert.equal(diff.code, 3, diff.stderr);
    assert.match(diff.stderr, /^warning: folder \/ cannot be read \(.*\): what it holds is not compared; `ferry check` says what is damaged/);
    assert.match(diff.stdout, /Files: +0 new/);
    const stats = await ferry(['stats', '-r', copy, '--json']);
    assert.equal(stats.code, 3, stats.stderr);
    assert.match(stats.stderr, /folder \/ cannot be read .*not counted/);
    assert.equal((JSON.parse(stats.stdout) as { snapshots_count: number }).snapshots_count, 2);
  });
});
