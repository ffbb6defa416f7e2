import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Id } from '../../core/ids.js';
import { objectKey } from '../../storage/layout.js';
import type { MemoryStorage } from '../../storage/memory-storage.js';
import { checkRepository } from '../checker/checker.js';
import { Repository } from '../repository/repository.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import { decodeTree, encodeTree, type TreeNode } from '../snapshot/tree-format.js';
import { repairIndex } from './repair-index.js';
import { repairSnapshots } from './repair-snapshots.js';
import { context, newRepository, password, reopen, seededBytes } from './testing/repair-fixture.js';

const base = { mode: 0o755, uid: 0, gid: 0, mtimeNs: 1n, ctimeNs: 1n, inode: 1n, device: 1n, links: 1 };
const dir = (name: string, subtree: Id): TreeNode => ({ ...base, name: Buffer.from(name), type: 'dir', size: 0, subtree });
const file = (name: string, content: Id[], size: number): TreeNode => ({ ...base, name: Buffer.from(name), type: 'file', size, content });

/**
 * By hand: `/keep.bin`, `/sub/inner.bin`, `/empty/`. The trees of `sub` and `empty` (the empty tree)
 * go into one tree pack, the root into another, the data into a third. Returns the pack of each part.
 */
async function handBuilt(): Promise<{ storage: MemoryStorage; snapshotId: Id; root: Id; subPack: Id; rootPack: Id; dataPack: Id; keep: Id }> {
  const { storage, repo } = await newRepository();
  const writer = repo.createWriter();
  const keep = (await writer.save('data', seededBytes(1, 4000))).id;
  const inner = (await writer.save('data', seededBytes(2, 4000))).id;
  await writer.flush();
  const sub = (await writer.save('tree', encodeTree([file('inner.bin', [inner], 4000)]))).id;
  const empty = (await writer.save('tree', encodeTree([]))).id;
  await writer.flush();
  const root = (await writer.save('tree', encodeTree([file('keep.bin', [keep], 4000), dir('sub', sub), dir('empty', empty)]))).id;
  await writer.flush();
  const snapshot: Snapshot = { version: 1, time: '2026-11-25T00:00:00.000Z', tree: root, paths: ['/'], hostname: 'h', username: 'u', uid: 0, gid: 0, tags: ['daily'], excludes: [], skipped: [] };
  const snapshotId = await repo.saveSnapshot(snapshot);
  const packOf = (id: Id): Id => repo.index.lookup(id)!.packId;
  return { storage, snapshotId, root, subPack: packOf(sub), rootPack: packOf(root), dataPack: packOf(keep), keep };
}

describe('repair snapshots: lost trees', () => {
  it('an unreadable subtree becomes an empty directory, stored anew even though the old empty tree was lost', async () => {
    const { storage, snapshotId, subPack, keep } = await handBuilt();
    await storage.remove(objectKey('pack', subPack));
    const report = await repairSnapshots(await Repository.open(storage, password, context), { forget: true });
    const [outcome] = report.outcomes;
    assert.ok(outcome?.kind === 'repaired' && outcome.id === snapshotId && outcome.newId);
    assert.deepEqual(outcome.lost.map((l) => l.path), ['/empty', '/sub']);
    assert.match(outcome.lost[0]!.reason, /pack [0-9a-f]{8} is missing/);

    const repo = await reopen(storage);
    const repaired = await repo.loadSnapshot(outcome.newId);
    assert.deepEqual(repaired.skipped.map((s) => s.path), ['/empty', '/sub']);
    const nodes = decodeTree(await repo.loadBlob('tree', repaired.tree));
    assert.deepEqual(nodes.map((n) => [n.name.toString(), n.type]), [['empty', 'dir'], ['keep.bin', 'file'], ['sub', 'dir']]);
    assert.deepEqual(nodes[1]!.content, [keep]);
    for (const node of nodes.filter((n) => n.type === 'dir')) assert.deepEqual(decodeTree(await repo.loadBlob('tree', node.subtree!)), []);

    const check = await checkRepository(await Repository.open(storage, password, context), { readData: true });
    assert.deepEqual([check.errors, check.warnings], [[], []]);
  });

  it('a lost root tree cannot be repaired: kept without --forget, removed with it', async () => {
    const { storage, snapshotId, root, rootPack } = await handBuilt();
    await storage.remove(objectKey('pack', rootPack));
    const kept = await repairSnapshots(await Repository.open(storage, password, context));
    assert.deepEqual(kept.outcomes.map((o) => [o.kind, o.id, o.kind === 'unrepairable' && o.rootTree, o.forgotten]), [['unrepairable', snapshotId, root, false]]);
    assert.equal((await (await reopen(storage)).listSnapshots()).length, 1);

    const removed = await repairSnapshots(await Repository.open(storage, password, context), { forget: true });
    assert.deepEqual(removed.outcomes.map((o) => [o.kind, o.forgotten]), [['unrepairable', true]]);
    assert.equal((await (await reopen(storage)).listSnapshots()).length, 0);
  });

  it('a tree missing from the index is lost like one whose pack is gone', async () => {
    const { storage, subPack } = await handBuilt();
    // Rebuild the index without the sub pack, which stays in storage: the trees in it are unindexed.
    const bytes = await storage.load(objectKey('pack', subPack));
    await storage.remove(objectKey('pack', subPack));
    await repairIndex(await Repository.open(storage, password, context));
    await storage.save(objectKey('pack', subPack), bytes);
    const report = await repairSnapshots(await Repository.open(storage, password, context), { dryRun: true });
    assert.equal(report.unindexedPacks, 1);
    const [outcome] = report.outcomes;
    assert.ok(outcome?.kind === 'repaired');
    assert.match(outcome.lost[1]!.reason, /tree blob [0-9a-f]{8} is not in the index/);
  });

  it('damaged data bytes are found only with readData, and lose just that file', async () => {
    const { storage, dataPack } = await handBuilt();
    const bytes = await storage.load(objectKey('pack', dataPack));
    bytes[100]! ^= 1;
    await storage.save(objectKey('pack', dataPack), bytes);
    const cheap = await repairSnapshots(await Repository.open(storage, password, context), { dryRun: true });
    assert.deepEqual(cheap.outcomes, []);
    const thorough = await repairSnapshots(await Repository.open(storage, password, context), { dryRun: true, readData: true });
    const [outcome] = thorough.outcomes;
    assert.ok(outcome?.kind === 'repaired');
    assert.deepEqual(outcome.lost.map((l) => l.path), ['/keep.bin']);
    assert.match(outcome.lost[0]!.reason, /data blob [0-9a-f]{8} in pack [0-9a-f]{8} is damaged/);
  });
});
