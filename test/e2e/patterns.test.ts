// Regression tests of issue 12's pattern bugs, through bin/ferry: patterns that match nothing are named,
// a backup never saves an empty snapshot because of its patterns, a restore that selects nothing says so,
// and a missing source among several is named while the rest is saved (exit 3).
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ferry, ferryOk, lastJson, makeTempDir, type TempDir } from './harness.js';

/** Every file below `dir`, relative, sorted (the repository's objects, a restore's tree). */
async function filesBelow(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

describe('patterns and sources, end to end', () => {
  let tmp: TempDir;
  let repo: string;
  let source: string;
  let other: string;

  const snapshotCount = async (): Promise<number> => (JSON.parse((await ferryOk(['snapshots', '-r', repo, '--json'])).stdout) as unknown[]).length;
  const lsPaths = async (id: string): Promise<string[]> => (await ferryOk(['ls', '-r', repo, id])).stdout.trim().split('\n');

  before(async () => {
    tmp = await makeTempDir('ferry-patterns-');
    repo = join(tmp.path, 'repo');
    source = join(tmp.path, 'data');
    other = join(tmp.path, 'other');
    await mkdir(join(source, 'src', 'mod1'), { recursive: true });
    await mkdir(join(source, 'bin'), { recursive: true });
    await mkdir(other, { recursive: true });
    await writeFile(join(source, 'src', 'mod1', 'a.c'), 'a');
    await writeFile(join(source, 'bin', 'x.bin'), 'x');
    await writeFile(join(source, 'notes.md'), 'n');
    await writeFile(join(other, 'o.txt'), 'o');
    await ferryOk(['init', '-r', repo]);
  });
  after(() => tmp?.cleanup());

  it("--exclude '!X' alone excludes nothing (as in restic) and is named as having no effect", async () => {
    const result = await ferryOk(['backup', '-r', repo, source, '--exclude', '!X']);
    assert.match(result.stderr, /warning: --exclude '!X' matched nothing/);
    const id = /snapshot ([0-9a-f]{8}) saved/.exec(result.stdout)![1]!;
    const paths = await lsPaths(id);
    for (const path of ['src/mod1/a.c', 'bin/x.bin', 'notes.md']) assert.ok(paths.includes(join(source, path)), `${path} is in the snapshot`);
  });

  it("restic's pattern forms select: src/mod1 and bin/*.bin at depth; an unmatched pattern is named (text and --json)", async () => {
    const result = await ferryOk(['backup', '-r', repo, source, '--exclude', 'src/mod1', '--exclude', 'bin/*.bin', '--exclude', 'nothing-here', '--json']);
    const id = lastJson<{ snapshot_id: string }>(result.stdout).snapshot_id;
    const warnings = result.stderr.trim().split('\n').map((line) => JSON.parse(line) as { message_type: string; warning: { message: string } });
    assert.deepEqual(warnings.map((w) => w.message_type), ['warning']);
    assert.match(warnings[0]!.warning.message, /^--exclude nothing-here matched nothing/);
    const paths = await lsPaths(id);
    assert.ok(!paths.some((p) => p.includes('mod1') || p.endsWith('.bin')), 'src/mod1 and bin/x.bin are left out');
    assert.ok(paths.includes(join(source, 'notes.md')));
  });

  it('a backup whose patterns exclude every source is refused: exit 1, nothing written', async () => {
    const before = await filesBelow(repo);
    const count = await snapshotCount();
    for (const args of [['--exclude', 'data'], ['--exclude', '*'], ['--iexclude', 'DATA/']]) {
      const result = await ferry(['backup', '-r', repo, source, ...args]);
      assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, /nothing to back up: the exclude options leave out the source .*no snapshot was saved/);
      assert.equal(result.stderr.trim().split('\n').length, 1, 'one line');
    }
    assert.equal(await snapshotCount(), count);
    assert.deepEqual(await filesBelow(repo), before, 'no object, lock or snapshot left behind');
  });

  it('an invalid pattern or size is refused before anything is written', async () => {
    const bad = await ferry(['backup', '-r', repo, source, '--exclude', 'x[']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /the pattern "x\[" is not valid/);
    const size = await ferry(['backup', '-r', repo, source, '--exclude-larger-than', 'ten']);
    assert.equal(size.code, 1);
    assert.match(size.stderr, /--exclude-larger-than ten: expected a size/);
  });

  it('a missing source among several: the rest is saved, the missing one named, exit 3; all missing is an error', async () => {
    const missing = join(tmp.path, 'gone');
    const result = await ferry(['backup', '-r', repo, source, missing, other]);
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, new RegExp(`${missing}: it does not exist; the other sources are backed up`));
    const id = /snapshot ([0-9a-f]{8}) saved/.exec(result.stdout)![1]!;
    const paths = await lsPaths(id);
    assert.ok(paths.includes(join(other, 'o.txt')) && paths.includes(join(source, 'notes.md')));
    const none = await ferry(['backup', '-r', repo, missing, join(tmp.path, 'gone2')]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /none of them exists/);
  });

  it('restore --include that selects nothing says so and exits 1; a pattern matching nothing is named', async () => {
    const target = join(tmp.path, 'restore-none');
    const none = await ferry(['restore', '-r', repo, 'latest', '--target', target, '--include', '*.nope']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /warning: --include '\*\.nope' matched nothing/);
    assert.match(none.stderr, /the patterns selected nothing in snapshot [0-9a-f]{8}, so nothing was restored/);
    assert.deepEqual(await filesBelow(target), []);

    const some = join(tmp.path, 'restore-some');
    const result = await ferryOk(['restore', '-r', repo, 'latest', '--target', some, '--include', '*.md', '--include', 'never']);
    assert.match(result.stderr, /warning: --include never matched nothing/);
    const restored = await filesBelow(some);
    assert.ok(restored.some((p) => p.endsWith('data/notes.md')), 'the match and its parents are restored');
    assert.ok(!restored.some((p) => p.endsWith('.c') || p.endsWith('.txt')), 'nothing else');
  });

  it('restore refuses include and exclude patterns together', async () => {
    const result = await ferry(['restore', '-r', repo, 'latest', '--target', join(tmp.path, 'mixed'), '--include', 'a', '--exclude', 'b']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /either --include\/--iinclude or --exclude\/--iexclude patterns, not both/);
  });
});
