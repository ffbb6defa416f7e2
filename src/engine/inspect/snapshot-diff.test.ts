import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IntegrityError } from '../../core/errors.js';
import type { Id } from '../../core/ids.js';
import { displayPath } from '../fs/byte-path.js';
import type { Repository } from '../repository/repository.js';
import { diffTrees, type DiffSummary } from './snapshot-diff.js';
import type { TreeSource } from './tree-source.js';
import { memoryRepository, saveTree, type NodeOverrides, type TreeSpec } from './testing/inspect-fixture.js';

async function trees(repo: Repository, ...specs: [TreeSpec, Record<string, NodeOverrides>?][]): Promise<Id[]> {
  const writer = repo.createWriter();
  const ids = [];
  for (const [spec, meta] of specs) ids.push(await saveTree(writer, spec, meta));
  await writer.flush();
  return ids;
}

async function diff(repo: TreeSource, a: Id, b: Id, metadata = false): Promise<{ lines: string[]; summary: DiffSummary; unreadable: string[] }> {
  const lines: string[] = [];
  const unreadable: string[] = [];
  const summary = await diffTrees(repo, a, b, {
    metadata,
    onChange: (c) => lines.push(`${c.modifier} ${displayPath(c.path)}${c.isDir ? '/' : ''}`),
    onUnreadableTree: (p) => unreadable.push(displayPath(p.path)),
  });
  return { lines, summary, unreadable };
}

describe('diffTrees', () => {
  it('lists added, removed, modified and retyped entries in path order, with restic counts', async () => {
    const repo = await memoryRepository();
    const [a, b] = await trees(
      repo,
      [{ keep: 'same', mod: 'old', gone: 'bye', old: { x: 'x', deep: { y: 'y' } }, link: { link: 'keep' }, f2d: 'file' }],
      [{ keep: 'same', mod: 'new', new: { n: 'n' }, link: { link: 'keep' }, f2d: { inside: 'i' } }],
    );
    const { lines, summary } = await diff(repo, a!, b!);
    assert.deepEqual(lines, ['T /f2d/', '+ /f2d/inside', '- /gone', 'M /mod', '+ /new/', '+ /new/n', '- /old/', '- /old/deep/', '- /old/deep/y', '- /old/x']);
    assert.equal(summary.changedFiles, 1);
    assert.deepEqual(
      { ...summary.added, bytes: 0 },
      { files: 2, dirs: 1, others: 0, dataBlobs: 3, treeBlobs: 3, bytes: 0 },
      'files new/n and f2d/inside (f2d/ itself is a T, as in restic); blobs: their content and the new one of mod; the root, new/ and f2d/ trees',
    );
    assert.deepEqual({ ...summary.removed, bytes: 0 }, { files: 3, dirs: 2, others: 0, dataBlobs: 5, treeBlobs: 3, bytes: 0 });
    assert.ok(summary.added.bytes > 0 && summary.removed.bytes > 0);
  });

  it('a blob still used elsewhere, or below an unchanged folder, is neither added nor removed', async () => {
    const repo = await memoryRepository();
    const [a, b] = await trees(repo, [{ same: { s: 'shared' }, f: 'moved' }], [{ same: { s: 'shared' }, g: 'moved', h: 'shared' }]);
    const { lines, summary } = await diff(repo, a!, b!);
    assert.deepEqual(lines, ['- /f', '+ /g', '+ /h']);
    assert.equal(summary.added.dataBlobs, 0);
    assert.equal(summary.removed.dataBlobs, 0);
    assert.equal(summary.added.treeBlobs, 1, 'only the new root tree');
  });

  it('U only with metadata, for changed fields and for folders whose entries changed; ? for content changed under equal metadata', async () => {
    const repo = await memoryRepository();
    const [a, b] = await trees(
      repo,
      [{ d: { f: 'x' }, chmod: 'c', rot: 'good' }, { '/rot': { mtimeNs: 7n } }],
      [{ d: { f: 'y' }, chmod: 'c', rot: 'evil' }, { '/chmod': { mode: 0o600 }, '/rot': { mtimeNs: 7n } }],
    );
    assert.deepEqual((await diff(repo, a!, b!)).lines, ['M /d/f', 'M? /rot']);
    assert.deepEqual((await diff(repo, a!, b!, true)).lines, ['U /chmod', 'U /d/', 'M /d/f', 'M? /rot']);
  });

  it('identical trees: nothing listed, nothing counted', async () => {
    const repo = await memoryRepository();
    const [a] = await trees(repo, [{ d: { f: 'x' } }]);
    const { lines, summary } = await diff(repo, a!, a!, true);
    assert.deepEqual(lines, []);
    assert.deepEqual(summary.added, { files: 0, dirs: 0, others: 0, dataBlobs: 0, treeBlobs: 0, bytes: 0 });
  });

  it('a folder whose tree cannot be read is named and left out; the rest is compared', async () => {
    const repo = await memoryRepository();
    const [a, b] = await trees(repo, [{ lost: { x: 'x' }, f: '1' }], [{ lost: { x: 'y' }, f: '2' }]);
    const writer = repo.createWriter();
    const bLost = await saveTree(writer, { x: 'y' });
    await writer.flush();
    // Fault injection: the newer `lost` tree does not load, as with a damaged pack.
    const damaged = { index: repo.index, loadBlob: (type: 'tree', id: Id) => (id === bLost ? Promise.reject(new IntegrityError('pack damaged')) : repo.loadBlob(type, id)) };
    const { lines, unreadable } = await diff(damaged, a!, b!);
    assert.deepEqual(unreadable, ['/lost']);
    assert.deepEqual(lines, ['M /f']);
  });
});
