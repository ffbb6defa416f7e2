import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Id } from '../../core/ids.js';
import { objectKey } from '../../storage/layout.js';
import type { MemoryStorage } from '../../storage/memory-storage.js';
import { checkRepository } from '../checker/checker.js';
import { pruneRepository } from '../prune/prune.js';
import { Repository } from '../repository/repository.js';
import { decodeTree } from '../snapshot/tree-format.js';
import { REPAIRED_TAG, repairSnapshots } from './repair-snapshots.js';
import { backupDir, context, filesByBlob, newRepository, password, readFiles, reopen, restoreTree, seededBytes, tempDir, writeFiles, type TempDir } from './testing/repair-fixture.js';

/** Every object key with its size: proves a run wrote and removed nothing. */
async function listing(storage: MemoryStorage): Promise<string[]> {
  const out: string[] = [];
  await storage.list('', (info) => void out.push(`${info.key} ${info.size}`));
  return out.sort();
}

describe('repair snapshots after a data pack is lost', () => {
  let tmp: TempDir;
  let source: string;
  let other: string;
  before(async () => {
    tmp = await tempDir();
    source = `${tmp.path}/src`;
    other = `${tmp.path}/other`;
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 16; i++) files[`d${i % 4}/f${i}.bin`] = seededBytes(i + 1, 3000 + i * 7000);
    files['top.txt'] = Buffer.from('top\n');
    await writeFiles(source, files);
    await writeFiles(other, { 'x.bin': seededBytes(99, 20000) });
  });
  after(() => tmp.cleanup());

  /**
   * Two backups of the source (sharing every tree) and one of `other`, then one data pack of the
   * source deleted. Returns the paths (as in the snapshot) of the files that lost a chunk.
   */
  async function damaged(): Promise<{ storage: MemoryStorage; lost: string[]; kept: Id[]; otherId: Id }> {
    const { storage, repo } = await newRepository();
    await backupDir(repo, source);
    await backupDir(repo, source, ['second']);
    const otherId = await backupDir(repo, other);
    const fresh = await reopen(storage);
    // The fixed clock gives every snapshot the same time: tell them apart by their paths.
    const snapshots = (await fresh.listSnapshots()).filter((r) => r.id !== otherId);
    const files = await filesByBlob(fresh, snapshots[0]!.snapshot.tree);
    const otherPacks = new Set([...(await filesByBlob(fresh, (await fresh.loadSnapshot(otherId)).tree)).values()].flat().map((id) => fresh.index.lookup(id)!.packId));
    const dataPacks = [...new Set([...files.values()].flat().map((id) => fresh.index.lookup(id)!.packId))].filter((p) => !otherPacks.has(p)).sort();
    const victim = dataPacks[1]!;
    await storage.remove(objectKey('pack', victim));
    const lost = [...files].filter(([, ids]) => ids.some((id) => fresh.index.lookup(id)!.packId === victim)).map(([path]) => path).sort();
    assert.ok(lost.length > 0 && lost.length < files.size, 'the pack holds some files but not all');
    return { storage, lost, kept: snapshots.map((r) => r.id), otherId };
  }

  it('writes repaired copies that restore every undamaged file byte for byte and list the lost ones', async () => {
    const { storage, lost, kept, otherId } = await damaged();
    const originals = await (await reopen(storage)).listSnapshots();
    const report = await repairSnapshots(await Repository.open(storage, password, context));
    assert.deepEqual(report.outcomes.map((o) => [o.kind, o.id]).sort(), kept.map((id) => ['repaired', id]).sort());

    const repo = await reopen(storage);
    const all = await repo.listSnapshots();
    assert.equal(all.length, 5, 'originals stay without --forget');
    assert.ok(all.some((r) => r.id === otherId), 'the whole snapshot is untouched');
    for (const [i, outcome] of report.outcomes.entries()) {
      assert.equal(outcome.kind, 'repaired');
      if (outcome.kind !== 'repaired') continue;
      assert.deepEqual(outcome.lost.map((l) => l.path), lost);
      const original = originals.find((r) => r.id === outcome.id)!.snapshot;
      const repaired = all.find((r) => r.id === outcome.newId)!.snapshot;
      assert.deepEqual({ ...repaired, tree: original.tree, tags: original.tags, skipped: original.skipped }, original, 'other fields are copied');
      assert.deepEqual(repaired.tags, [...original.tags, REPAIRED_TAG]);
      assert.deepEqual(repaired.skipped.map((s) => s.path), lost);
      assert.ok(repaired.skipped.every((s) => /^lost: pack [0-9a-f]{8} is missing$/.test(s.error)));

      const target = `${tmp.path}/restore-${i}`;
      assert.deepEqual(await restoreTree(repo, repaired.tree, target), []);
      const expected = await readFiles(source);
      for (const path of lost) expected.delete(path.slice(source.length + 1));
      assert.deepEqual(await readFiles(`${target}${source}`), expected);
    }
  });

  it('keeps the tree ids of undamaged directories', async () => {
    const { storage, lost } = await damaged();
    const report = await repairSnapshots(await Repository.open(storage, password, context));
    const repo = await reopen(storage);
    const outcome = report.outcomes[0];
    assert.ok(outcome?.kind === 'repaired' && outcome.newId);
    const original = (await repo.loadSnapshot(outcome.id)).tree;
    const repaired = (await repo.loadSnapshot(outcome.newId)).tree;
    const dirsOf = async (tree: Id): Promise<Map<string, Id>> => {
      let nodes = decodeTree(await repo.loadBlob('tree', tree));
      for (const name of source.split('/').slice(1)) nodes = decodeTree(await repo.loadBlob('tree', nodes.find((n) => n.name.toString() === name)!.subtree!));
      return new Map(nodes.filter((n) => n.type === 'dir').map((n) => [n.name.toString(), n.subtree!]));
    };
    const before = await dirsOf(original);
    const afterRepair = await dirsOf(repaired);
    for (const [name, id] of before) {
      const damagedDir = lost.some((p) => p.startsWith(`${source}/${name}/`));
      assert.equal(afterRepair.get(name) === id, !damagedDir, `${name}: shared unless damaged`);
    }
  });

  it('with --forget, removes the originals and drops the lost pack from the index; after prune, check is clean', async () => {
    const { storage, kept } = await damaged();
    const report = await repairSnapshots(await Repository.open(storage, password, context), { forget: true });
    assert.ok(report.outcomes.every((o) => o.forgotten));
    const ids = (await (await reopen(storage)).listSnapshots()).map((r) => r.id);
    assert.equal(ids.length, 3);
    assert.ok(kept.every((id) => !ids.includes(id)));

    assert.equal(report.packsDroppedFromIndex.length, 1);
    assert.ok((await reopen(storage)).index.packs().size > 0);
    assert.ok(![...(await reopen(storage)).index.packs().keys()].includes(report.packsDroppedFromIndex[0]!));
    const pruned = await pruneRepository(await Repository.open(storage, password, context), { repackUnusedShare: 0 });
    assert.ok(pruned.packsRepacked > 0, 'the blobs only the originals used are gone');
    const check = await checkRepository(await Repository.open(storage, password, context), { readData: true });
    assert.deepEqual([check.errors, check.warnings], [[], []]);
  });

  it('a dry run reports the same and changes nothing', async () => {
    const { storage, lost } = await damaged();
    const beforeRun = await listing(storage);
    const report = await repairSnapshots(await Repository.open(storage, password, context), { dryRun: true, forget: true });
    assert.equal(report.outcomes.length, 2);
    for (const outcome of report.outcomes) {
      assert.ok(outcome.kind === 'repaired' && outcome.newId === undefined && !outcome.forgotten);
      assert.deepEqual(outcome.lost.map((l) => l.path), lost);
    }
    assert.deepEqual(await listing(storage), beforeRun);
  });

  it('a second run finds the repaired snapshots whole', async () => {
    const { storage } = await damaged();
    await repairSnapshots(await Repository.open(storage, password, context), { forget: true });
    const again = await repairSnapshots(await Repository.open(storage, password, context), { forget: true });
    assert.deepEqual(again.outcomes, []);
  });
});

describe('repair snapshots with a snapshot file that does not open', () => {
  let tmp: TempDir;
  before(async () => {
    tmp = await tempDir();
    await writeFiles(`${tmp.path}/a`, { 'a.txt': Buffer.from('a\n') });
    await writeFiles(`${tmp.path}/b`, { 'b.txt': Buffer.from('b\n') });
  });
  after(() => tmp.cleanup());

  it('reports it without --forget (nothing removed), removes it with --forget, and leaves the other snapshot alone', async () => {
    const { storage, repo } = await newRepository();
    const good = await backupDir(repo, `${tmp.path}/a`);
    const bad = await backupDir(repo, `${tmp.path}/b`);
    const key = objectKey('snapshot', bad);
    const bytes = Buffer.from(await storage.load(key));
    bytes[20]! ^= 1;
    await storage.remove(key);
    await storage.save(key, bytes);

    const before = await listing(storage);
    for (const dryRun of [false, true]) {
      const report = await repairSnapshots(await reopen(storage), { dryRun, forget: dryRun });
      assert.equal(report.snapshotsChecked, 2);
      assert.deepEqual(report.outcomes.map((o) => [o.kind, o.id, o.forgotten]), [['unreadable', bad, false]]);
      assert.match(report.outcomes[0]!.kind === 'unreadable' ? report.outcomes[0]!.reason : '', /authentication failed/);
    }
    assert.deepEqual(await listing(storage), before, 'neither a plain run nor a dry run removed anything');

    const report = await repairSnapshots(await reopen(storage), { forget: true });
    assert.deepEqual(report.outcomes.map((o) => [o.kind, o.id, o.forgotten]), [['unreadable', bad, true]]);
    const after = await reopen(storage);
    assert.deepEqual(await after.listIds('snapshot'), [good]);
    assert.deepEqual((await checkRepository(after, { readData: true })).errors, []);
  });
});
