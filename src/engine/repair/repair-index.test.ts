import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Failpoints } from '../../core/failpoints.js';
import type { Id } from '../../core/ids.js';
import { objectKey } from '../../storage/layout.js';
import type { MemoryStorage } from '../../storage/memory-storage.js';
import { checkRepository } from '../checker/checker.js';
import { sha256Id } from '../crypto/sha256.js';
import { openPackHeader, sealPackHeader } from '../pack/pack-format.js';
import { LockLostError } from '../repository/lock-lost-error.js';
import { Repository } from '../repository/repository.js';
import { readPackHeader } from './pack-header-reader.js';
import { repairIndex } from './repair-index.js';
import { backupDir, context, newRepository, password, readFiles, reopen, restoreTree, seededBytes, tempDir, writeFiles, type TempDir } from './testing/repair-fixture.js';

/** Blob id → pack id of everything indexed. */
function indexedBlobs(repo: Repository): Map<Id, Id> {
  return new Map([...repo.index.entries()].map((b) => [b.id, b.packId]));
}

describe('repair index', () => {
  let tmp: TempDir;
  let source: string;
  before(async () => {
    tmp = await tempDir();
    source = `${tmp.path}/src`;
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 12; i++) files[`dir${i % 3}/file${i}.bin`] = seededBytes(i + 1, 5000 + i * 9000);
    files['empty'] = Buffer.alloc(0);
    await writeFiles(source, files);
  });
  after(() => tmp.cleanup());

  /** A repository with one backup of the source; returns its storage and the blobs it indexes. */
  async function backedUp(): Promise<{ storage: MemoryStorage; blobs: Map<Id, Id>; tree: Id }> {
    const { storage, repo } = await newRepository();
    await backupDir(repo, source);
    const fresh = await reopen(storage);
    const [record] = await fresh.listSnapshots();
    return { storage, blobs: indexedBlobs(fresh), tree: record!.snapshot.tree };
  }

  it('checks its lock before writing and before every removal, and stops when it is lost', async () => {
    const { storage } = await backedUp();
    const oldIndex = await (await reopen(storage)).listIds('index');
    let checks = 0;
    const lock = {
      assertHeld: () => {
        if (++checks > 1) throw new LockLostError('the repository lock was lost: it was last refreshed 31 min ago');
      },
    };
    await assert.rejects(repairIndex(await Repository.open(storage, password, context), { lock }), LockLostError);
    assert.equal(checks, 2, 'once before the new index, then before the first removal');
    const after = await (await reopen(storage)).listIds('index');
    for (const id of oldIndex) assert.ok(after.includes(id), 'no old index file was removed after the loss');
    assert.equal((await checkRepository(await reopen(storage), { readData: true })).errors.length, 0);
  });

  it('reads the same header with ranged loads as from the whole pack', async () => {
    const { storage } = await backedUp();
    const repo = await reopen(storage);
    for (const [packId, size] of repo.index.packs()) {
      const whole = openPackHeader(repo.key.encryptionKey, await storage.load(objectKey('pack', packId)));
      assert.deepEqual(await readPackHeader(storage, objectKey('pack', packId), repo.key.encryptionKey, packId, size), whole);
    }
  });

  it('after every index file is deleted, restores every blob; check and restore are whole again', async () => {
    const { storage, blobs, tree } = await backedUp();
    for (const id of await (await reopen(storage)).listIds('index')) await storage.remove(objectKey('index', id));
    assert.equal(indexedBlobs(await reopen(storage)).size, 0);

    const report = await repairIndex(await Repository.open(storage, password, context));
    assert.equal(report.packsSkipped.length, 0);
    assert.equal(report.packsAdded, report.packsIndexed, 'every pack was unindexed before');
    const repo = await reopen(storage);
    assert.deepEqual(indexedBlobs(repo), blobs);
    const check = await checkRepository(await Repository.open(storage, password, context), { readData: true });
    assert.deepEqual([check.errors, check.warnings], [[], []]);
    const target = `${tmp.path}/restore-all`;
    assert.deepEqual(await restoreTree(repo, tree, target), []);
    assert.deepEqual(await readFiles(`${target}${source}`), await readFiles(source));
  });

  it('replaces a corrupt index file that made the whole index unloadable', async () => {
    const { storage, blobs } = await backedUp();
    const [victim] = await (await reopen(storage)).listIds('index');
    const bytes = await storage.load(objectKey('index', victim!));
    bytes[bytes.length - 20]! ^= 0x40;
    await storage.save(objectKey('index', victim!), bytes);
    await assert.rejects(reopen(storage), /loading index/);

    const report = await repairIndex(await Repository.open(storage, password, context));
    assert.deepEqual(report.unreadableIndexFiles.map((f) => f.id), [victim]);
    assert.ok(report.indexFilesRemoved.includes(victim!));
    assert.deepEqual(indexedBlobs(await reopen(storage)), blobs);
  });

  it('reports and leaves out packs whose header does not authenticate or whose size is wrong', async () => {
    const { storage, blobs } = await backedUp();
    const stray = randomBytes(3000);
    const strayId = sha256Id(stray);
    await storage.save(objectKey('pack', strayId), stray);
    // Well formed, but sealed under another repository's key.
    const entry = { type: 'data', id: sha256Id(Buffer.from('x')), compression: 0, length: 1000, rawLength: 972 } as const;
    const foreign = Buffer.concat([randomBytes(1000), sealPackHeader(randomBytes(32), [entry])]);
    const foreignId = sha256Id(foreign);
    await storage.save(objectKey('pack', foreignId), foreign);
    const [realPack] = (await reopen(storage)).index.packs().keys();
    const truncated = (await storage.load(objectKey('pack', realPack!))).subarray(1);
    const truncatedId = sha256Id(truncated);
    await storage.save(objectKey('pack', truncatedId), truncated);

    const report = await repairIndex(await Repository.open(storage, password, context));
    assert.deepEqual(report.packsSkipped.map((p) => p.id).sort(), [strayId, foreignId, truncatedId].sort());
    const problem = (id: Id): string => report.packsSkipped.find((p) => p.id === id)!.problem;
    assert.match(problem(strayId), /impossible header length/);
    assert.match(problem(foreignId), /authentication failed/);
    assert.match(problem(truncatedId), /has \d+ bytes but its header accounts for \d+/);
    const repo = await reopen(storage);
    assert.ok([strayId, foreignId, truncatedId].every((id) => !repo.index.hasPack(id)));
    assert.deepEqual(indexedBlobs(repo), blobs);
    assert.deepEqual(await storage.load(objectKey('pack', strayId)), stray, 'skipped packs are not deleted');
  });

  it('with readData, also leaves out a pack whose bytes do not match its name', async () => {
    const { storage } = await backedUp();
    const [packId] = (await reopen(storage)).index.packs().keys();
    const bytes = await storage.load(objectKey('pack', packId!));
    bytes[10]! ^= 1;
    await storage.save(objectKey('pack', packId!), bytes);
    const cheap = await repairIndex(await Repository.open(storage, password, context));
    assert.equal(cheap.packsSkipped.length, 0, 'the header alone looks fine');
    const thorough = await repairIndex(await Repository.open(storage, password, context), { readData: true });
    assert.deepEqual(thorough.packsSkipped.map((p) => p.id), [packId]);
    assert.match(thorough.packsSkipped[0]!.problem, /do not match its name/);
  });

  it('removes the superseded files, and a second repair changes nothing in effect', async () => {
    const { storage, blobs } = await backedUp();
    const before = await (await reopen(storage)).listIds('index');
    const first = await repairIndex(await Repository.open(storage, password, context));
    assert.deepEqual([...first.indexFilesRemoved].sort(), [...before].sort());
    const afterFirst = await reopen(storage);
    assert.deepEqual((await afterFirst.listIds('index')).sort(), [...first.indexFilesWritten].sort());

    const second = await repairIndex(await Repository.open(storage, password, context));
    assert.deepEqual(second.indexFilesRemoved, first.indexFilesWritten);
    assert.equal(second.packsAdded, 0);
    assert.deepEqual(second.packsDropped, []);
    const afterSecond = await reopen(storage);
    assert.deepEqual(indexedBlobs(afterSecond), blobs);
    assert.deepEqual(new Map(afterSecond.index.packs()), new Map(afterFirst.index.packs()));
  });

  it('a crash after the new index is written leaves a loadable index; running again finishes', async () => {
    const { storage, blobs } = await backedUp();
    const old = await (await reopen(storage)).listIds('index');
    const crashing: Failpoints = {
      hit: (name) => {
        if (name === 'repair-index-written') throw new Error('simulated crash');
      },
    };
    await assert.rejects(repairIndex(await Repository.open(storage, password, { ...context, failpoints: crashing })), /simulated crash/);
    const between = await reopen(storage);
    assert.equal((await between.listIds('index')).length, old.length + 1, 'old files are still there');
    assert.deepEqual(indexedBlobs(between), blobs);

    await repairIndex(await Repository.open(storage, password, context));
    const done = await reopen(storage);
    assert.equal((await done.listIds('index')).length, 1);
    assert.deepEqual(indexedBlobs(done), blobs);
  });
});
