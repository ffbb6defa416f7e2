import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildFidelityTree, type FidelityTreeInfo } from '../fixtures/fidelity-tree.js';
import { removeTree } from '../fixtures/remove-tree.js';
import { compareTrees } from '../fixtures/tree-compare.js';
import { ferryOk, lastJson, makeTempDir, type TempDir } from './harness.js';

const isRoot = process.getuid?.() === 0;

describe('a restore is identical to the source', () => {
  let tmp: TempDir;
  let repo: string;
  let source: string;
  let info: FidelityTreeInfo;
  const ignore = isRoot ? {} : { ownership: true, specialFiles: true };

  before(async () => {
    tmp = await makeTempDir();
    repo = join(tmp.path, 'repo');
    source = join(tmp.path, 'source');
    info = await buildFidelityTree(source, { withDevices: isRoot });
    await ferryOk(['init', '-r', repo]);
  });
  after(async () => {
    await removeTree(tmp.path);
  });

  it('covers every case the fixture builds', () => {
    assert.ok(info.cases.length >= 50, `only ${info.cases.length} cases`);
    if (isRoot) assert.deepEqual(info.skipped, []);
  });

  it('full backup, then restore: every name, byte, mode, owner, time, link, hole and special file', async () => {
    const summary = lastJson<{ files_skipped: number }>((await ferryOk(['backup', '-r', repo, source, '--json'])).stdout);
    assert.equal(summary.files_skipped, 0);
    const target = join(tmp.path, 'restore-1');
    // Nothing on stderr: no warning of any kind (Node's included) for a restore that went well.
    assert.equal((await ferryOk(['restore', '-r', repo, 'latest', '--target', target])).stderr, '');
    assert.deepEqual(await compareTrees(source, join(target, source), { ignore }), []);
  });

  it('an incremental backup that reuses unchanged files restores identically too', async () => {
    const summary = lastJson<{ bytes_read: number; files_unmodified: number }>((await ferryOk(['backup', '-r', repo, source, '--json'])).stdout);
    assert.equal(summary.bytes_read, 0);
    assert.ok(summary.files_unmodified > 0);
    const target = join(tmp.path, 'restore-2');
    await ferryOk(['restore', '-r', repo, 'latest', '--target', target]);
    assert.deepEqual(await compareTrees(source, join(target, source), { ignore }), []);
    // Restoring again over the first restore replaces what is there without following anything; this time
    // with two file writers and a write-behind ring (settings the bench can flip) to cover them too.
    const again = await ferryOk(['restore', '-r', repo, 'latest', '--target', target], { env: { FERRY_RESTORE_WRITERS: '2', FERRY_RESTORE_WRITE_BEHIND: '4' } });
    assert.equal(again.stderr, '');
    assert.deepEqual(await compareTrees(source, join(target, source), { ignore }), []);
  });

  it('--include restores one subtree only', async () => {
    const target = join(tmp.path, 'restore-3');
    await ferryOk(['restore', '-r', repo, 'latest', '--target', target, '--include', join(source, 'modes')]);
    assert.deepEqual(await compareTrees(join(source, 'modes'), join(target, source, 'modes'), { ignore }), []);
    const ls = await ferryOk(['ls', '-r', repo, 'latest', join(source, 'names')]);
    assert.match(ls.stdout, /résumé/);
    assert.match(ls.stdout, /\\xff/);
  });

  it('check --read-data accepts the repository', async () => {
    await ferryOk(['check', '-r', repo, '--read-data']);
  });
});
