// One damaged object is that object's problem (issue 12): a bit flipped in one snapshot file, or in one
// index file, of a repository on disk, then every command a user would reach for, through bin/ferry.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { flipBit } from './damage.js';
import { ferry, ferryOk, lastJson, makeTempDir, type TempDir } from './harness.js';

interface SnapshotJson {
  id: string;
  paths: string[];
}

/** Every regular file below `root`, relative path → content. */
async function readFiles(root: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) out.set(relative(root, join(entry.parentPath, entry.name)), await readFile(join(entry.parentPath, entry.name)));
  }
  return out;
}

async function backup(repo: string, source: string): Promise<string> {
  return lastJson<{ snapshot_id: string }>((await ferryOk(['backup', '-r', repo, '--json', source])).stdout).snapshot_id;
}

describe('a bit flip in one snapshot file', () => {
  let tmp: TempDir;
  let repo: string;
  let source: string;
  let first: string;
  let second: string;
  let firstFiles: Map<string, Buffer>;

  before(async () => {
    tmp = await makeTempDir('ferry-e2e-badobj-');
    repo = join(tmp.path, 'repo');
    source = join(tmp.path, 'src');
    await mkdir(join(source, 'sub'), { recursive: true });
    await writeFile(join(source, 'a.txt'), 'first version\n'.repeat(100));
    await writeFile(join(source, 'sub', 'b.bin'), Buffer.alloc(200_000, 3));
    await ferryOk(['init', '-r', repo]);
    first = await backup(repo, source);
    firstFiles = await readFiles(source);
    await writeFile(join(source, 'a.txt'), 'second version\n'.repeat(100));
    second = await backup(repo, source);
    await flipBit(join(repo, 'snapshots', second));
  });
  after(() => tmp.cleanup());

  it('snapshots lists the readable one, names the damaged file and the remedy on stderr, exit 3; --json stays valid', async () => {
    const listed = await ferry(['snapshots', '-r', repo]);
    assert.equal(listed.code, 3, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^${first.slice(0, 8)} `, 'm'));
    assert.doesNotMatch(listed.stdout, new RegExp(second.slice(0, 8)));
    assert.match(listed.stdout, /^1 snapshot, 1 cannot be read \(named above\)$/m);
    const lines = listed.stderr.trim().split('\n');
    assert.equal(lines.length, 1, listed.stderr);
    assert.match(
      lines[0]!,
      new RegExp(`^ferry: snapshot file snapshots/${second} cannot be read \\(authentication failed.*\\): .*remove it with \`ferry forget ${second}\` or \`ferry repair snapshots --forget\`$`),
    );

    const json = await ferry(['snapshots', '-r', repo, '--json']);
    assert.equal(json.code, 3);
    assert.deepEqual((JSON.parse(json.stdout) as SnapshotJson[]).map((s) => s.id), [first]);
    assert.match(json.stderr, new RegExp(`snapshots/${second}`));
  });

  it('restore and ls of the intact snapshot work by id, prefix and latest; the damaged one is refused with the remedy', async () => {
    for (const ref of [first, first.slice(0, 8), 'latest']) {
      const target = join(tmp.path, `restore-${ref}`);
      const restored = await ferryOk(['restore', '-r', repo, ref, '--target', target]);
      assert.deepEqual(await readFiles(join(target, source)), firstFiles, ref);
      if (ref === 'latest') assert.match(restored.stderr, /"latest" is the newest snapshot that can be read; 1 snapshot file cannot be read/);
    }
    const ls = await ferryOk(['ls', '-r', repo, first.slice(0, 8)]);
    assert.match(ls.stdout, /\/sub\/b\.bin$/m);

    for (const ref of [second, second.slice(0, 8)]) {
      const refused = await ferry(['restore', '-r', repo, ref, '--target', join(tmp.path, 'no')]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, new RegExp(`^ferry: snapshot file snapshots/${second} cannot be read .*\`ferry forget ${second}\`.*choose another snapshot`));
      assert.doesNotMatch(refused.stderr, /unexpected error/);
    }
  });

  it('backup picks its parent among the readable snapshots and finishes', async () => {
    const result = await ferryOk(['backup', '-r', repo, source]);
    assert.match(result.stdout, new RegExp(`using parent snapshot ${first.slice(0, 8)}`));
    assert.match(result.stderr, /1 snapshot file cannot be read .*the parent snapshot is chosen among the others/);
    assert.match(result.stdout, /snapshot [0-9a-f]{8} saved/);
  });

  it('check names it (exit 1); prune refuses and says to forget it; forget ID removes it; then all is clean', async () => {
    const check = await ferry(['check', '-r', repo]);
    assert.equal(check.code, 1);
    assert.match(check.stderr, new RegExp(`error: snapshot file snapshots/${second} cannot be read .*\`ferry forget ${second}\``));
    assert.match(check.stdout, /checked 3 snapshots/);

    const prune = await ferry(['prune', '-r', repo]);
    assert.equal(prune.code, 1);
    assert.match(prune.stderr, new RegExp(`prune refused, nothing was deleted: snapshot ${second.slice(0, 8)} cannot be read .*Remove it first with \`ferry forget ${second}\``));

    const mixed = await ferry(['forget', '-r', repo, second, '--keep-last', '1']);
    assert.equal(mixed.code, 1);
    assert.match(mixed.stderr, /either snapshot ids or --keep-\*/);

    const forget = await ferryOk(['forget', '-r', repo, second.slice(0, 10)]);
    assert.match(forget.stdout, new RegExp(`^removed snapshot ${second.slice(0, 8)}$`, 'm'));
    const after = await ferryOk(['snapshots', '-r', repo, '--json']);
    assert.equal((JSON.parse(after.stdout) as SnapshotJson[]).length, 2);
    assert.equal(after.stderr, '');
    await ferryOk(['prune', '-r', repo]);
    const clean = await ferryOk(['check', '-r', repo, '--read-data']);
    assert.match(clean.stdout, /no errors/);
  });

  it('repair snapshots --forget removes a damaged snapshot file; without --forget it only names it (exit 1)', async () => {
    const victim = await backup(repo, source);
    await flipBit(join(repo, 'snapshots', victim));
    const named = await ferry(['repair', 'snapshots', '-r', repo]);
    assert.equal(named.code, 1);
    assert.match(named.stderr, new RegExp(`snapshot file snapshots/${victim} cannot be read .*nothing of it can be salvaged; remove it with \`ferry repair snapshots --forget\``));
    const removed = await ferryOk(['repair', 'snapshots', '-r', repo, '--forget']);
    assert.match(removed.stderr, new RegExp(`snapshot file snapshots/${victim} cannot be read .*; removed$`, 'm'));
    assert.match(removed.stdout, /checked 3 snapshots: 0 repaired, 0 could not be repaired, 1 cannot be read \(1 removed\)/);
    const listed = await ferryOk(['snapshots', '-r', repo]);
    assert.doesNotMatch(listed.stdout, new RegExp(victim.slice(0, 8)));
    await ferryOk(['check', '-r', repo]);
  });
});

describe('a damaged or missing index file', () => {
  let tmp: TempDir;
  let repo: string;
  let source: string;
  let first: string;
  let firstFiles: Map<string, Buffer>;
  let secondFiles: Map<string, Buffer>;
  let secondIndex: string;

  before(async () => {
    tmp = await makeTempDir('ferry-e2e-badidx-');
    repo = join(tmp.path, 'repo');
    source = join(tmp.path, 'src');
    await mkdir(source, { recursive: true });
    await writeFile(join(source, 'a.bin'), Buffer.alloc(100_000, 1));
    await ferryOk(['init', '-r', repo]);
    first = await backup(repo, source);
    firstFiles = await readFiles(source);
    const before = new Set(await readdir(join(repo, 'index')));
    await writeFile(join(source, 'new.bin'), Buffer.alloc(150_000, 2));
    await backup(repo, source);
    secondFiles = await readFiles(source);
    const added = (await readdir(join(repo, 'index'))).filter((name) => !before.has(name));
    assert.equal(added.length, 1);
    secondIndex = added[0]!;
    await flipBit(join(repo, 'index', secondIndex));
  });
  after(() => tmp.cleanup());

  it('restore of a snapshot whose data the other index files list works, with a warning that says repair index', async () => {
    const target = join(tmp.path, 'restore-first');
    const restored = await ferryOk(['restore', '-r', repo, first, '--target', target]);
    assert.deepEqual(await readFiles(join(target, source)), firstFiles);
    assert.match(restored.stderr, new RegExp(`^warning: index file index/${secondIndex} cannot be read \\(authentication failed.*\\): .*\`ferry repair index\`, which rebuilds the index from the packs \\(nothing is lost`, 'm'));
  });

  it('restore of what only the damaged index file lists says to run repair index, not check --read-data', async () => {
    const failed = await ferry(['restore', '-r', repo, 'latest', '--target', join(tmp.path, 'restore-latest')]);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /the index does not list, because some index files cannot be read \(see the warnings above\): run `ferry repair index` \(it rebuilds the index from the packs\), then restore again/);
    assert.doesNotMatch(failed.stderr, /check --read-data/);
  });

  it('check names the index file and calls the packs it listed needed, not harmless', async () => {
    const check = await ferry(['check', '-r', repo]);
    assert.equal(check.code, 1);
    assert.match(check.stderr, new RegExp(`error: index file index/${secondIndex} cannot be read .*run \`ferry repair index\``));
    assert.match(check.stderr, /error: pack [0-9a-f]{64} is not in the index, but snapshots [0-9a-f]{8} need blobs it holds .*run `ferry repair index`/);
    assert.doesNotMatch(check.stdout, /harmless/);
  });

  it('backup still works (it stores again what it cannot find); repair index then makes everything whole', async () => {
    const result = await ferryOk(['backup', '-r', repo, source]);
    assert.match(result.stderr, /warning: index file index\/[0-9a-f]{64} cannot be read/);
    await ferryOk(['repair', 'index', '-r', repo]);
    await ferryOk(['check', '-r', repo, '--read-data']);
    const target = join(tmp.path, 'restore-repaired');
    await ferryOk(['restore', '-r', repo, 'latest', '--target', target]);
    assert.deepEqual(await readFiles(join(target, source)), secondFiles);
  });

  it('a missing index file: restore says repair index; repair index brings the data back', async () => {
    await backup(repo, source);
    for (const name of await readdir(join(repo, 'index'))) await rm(join(repo, 'index', name));
    const failed = await ferry(['restore', '-r', repo, 'latest', '--target', join(tmp.path, 'restore-missing')]);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /run `ferry repair index`/);
    assert.doesNotMatch(failed.stderr, /check --read-data|unexpected error/);
    await ferryOk(['repair', 'index', '-r', repo]);
    const target = join(tmp.path, 'restore-after');
    await ferryOk(['restore', '-r', repo, 'latest', '--target', target]);
    assert.deepEqual(await readFiles(join(target, source)), secondFiles);
  });
});
