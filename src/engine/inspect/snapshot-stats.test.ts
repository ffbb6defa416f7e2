import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Id } from '../../core/ids.js';
import type { Repository } from '../repository/repository.js';
import { snapshotStats, type StatsMode } from './snapshot-stats.js';
import { memoryRepository, saveTree } from './testing/inspect-fixture.js';

/** Two snapshots: the second changes `a`, adds a copy of `b` and a hard link pair. */
async function twoSnapshots(repo: Repository): Promise<Id[]> {
  const writer = repo.createWriter();
  const first = await saveTree(writer, { a: 'aaaa', b: 'bb', d: { c: 'cccccc', l: { link: 'a' } }, empty: '' });
  const second = await saveTree(
    writer,
    { a: 'AAAAA', b: 'bb', copy: 'bb', d: { c: 'cccccc', l: { link: 'a' } }, h1: 'hhh', h2: 'hhh' },
    { '/h1': { links: 2, inode: 9n, device: 1n }, '/h2': { links: 2, inode: 9n, device: 1n } },
  );
  await writer.flush();
  return [first, second];
}

async function stats(repo: Repository, trees: Id[], mode: StatsMode): Promise<{ size: number; files: number; blobs: number }> {
  const s = await snapshotStats(repo, trees, mode, { onUnreadableTree: (p) => assert.fail(p.error) });
  assert.equal(s.snapshotsCount, trees.length);
  return { size: s.totalSize, files: s.totalFileCount, blobs: s.totalBlobCount };
}

describe('snapshotStats', () => {
  it('restore-size: every entry of every snapshot, file sizes, a hard-linked inode once per snapshot', async () => {
    const repo = await memoryRepository();
    const [first, second] = await twoSnapshots(repo);
    assert.deepEqual(await stats(repo, [first!], 'restore-size'), { size: 12, files: 6, blobs: 0 }, 'symlinks and folders weigh nothing');
    assert.deepEqual(await stats(repo, [second!], 'restore-size'), { size: 5 + 2 + 2 + 6 + 3, files: 8, blobs: 0 });
    assert.deepEqual(await stats(repo, [first!, second!], 'restore-size'), { size: 12 + 18, files: 14, blobs: 0 });
  });

  it('files-by-contents: one entry per distinct content (every entry without content counts as one)', async () => {
    const repo = await memoryRepository();
    const [first, second] = await twoSnapshots(repo);
    // aaaa, bb, cccccc, and the content-less d/, l and empty; then AAAAA and hhh.
    assert.deepEqual(await stats(repo, [first!, second!], 'files-by-contents'), { size: 4 + 2 + 6 + 5 + 3, files: 6, blobs: 0 });
  });

  it('blobs-per-file: distinct files by content, their blobs per path, plaintext bytes', async () => {
    const repo = await memoryRepository();
    const [first, second] = await twoSnapshots(repo);
    // Paths /a, /b, /d/c, /h1: the second /a is a new content at a path already counted (restic's rule).
    assert.deepEqual(await stats(repo, [first!, second!], 'blobs-per-file'), { size: 4 + 2 + 6 + 5 + 3, files: 4, blobs: 5 });
  });

  it('raw-data: each blob once however many snapshots use it, bytes in packs and compression figures', async () => {
    const repo = await memoryRepository();
    const [first, second] = await twoSnapshots(repo);
    const both = await snapshotStats(repo, [first!, second!], 'raw-data', { onUnreadableTree: (p) => assert.fail(p.error) });
    // Data: aaaa bb cccccc AAAAA hhh; trees: two roots and one d/ (unchanged, shared).
    assert.equal(both.totalBlobCount, 5 + 3);
    assert.equal(both.totalFileCount, 0);
    let packed = 0;
    await repo.loadIndex(); // with full ids: a compact index does not list its entries
    for (const location of repo.index.entries()) packed += location.length;
    assert.equal(both.totalSize, packed, 'every blob of the repository is used, each counted once');
    assert.ok(both.totalUncompressedSize! > 0);
    const one = await snapshotStats(repo, [first!], 'raw-data', { onUnreadableTree: (p) => assert.fail(p.error) });
    assert.equal(one.totalBlobCount, 3 + 2);
  });
});
