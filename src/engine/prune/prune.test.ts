import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../../core/errors.js';
import type { Id } from '../../core/ids.js';
import { objectKey } from '../../storage/layout.js';
import type { Storage } from '../../storage/storage.js';
import { checkRepository } from '../checker/checker.js';
import { BlobCompressor } from '../compress/zstd.js';
import { ContentHasher } from '../crypto/content-id.js';
import { sha256Id } from '../crypto/sha256.js';
import { openIndex, sealIndex } from '../index/index-file.js';
import type { IndexedPack } from '../index/index-format.js';
import type { Repository } from '../repository/repository.js';
import { pruneRepository, PruneRefusedError, type PruneReport } from './prune.js';
import { backUp, CHUNK, FILES_A, FILES_B, keysUnder, listing, openRepo, readSnapshot, reopen, scenario, seeded } from './testing/prune-fixture.js';

const NOTHING_TO_DO = { packsDeleted: 0, packsRepacked: 0, bytesFreed: 0, blobsRemoved: 0, indexFilesRewritten: 0, interruptedSavesRemoved: 0, dryRun: false };

/** check --read-data finds no error and no unindexed pack. */
async function assertClean(storage: Storage): Promise<void> {
  const report = await checkRepository(await reopen(storage), { readData: true });
  assert.deepEqual(report.errors, []);
  assert.deepEqual(report.warnings, []);
}

describe('pruneRepository', () => {
  it('frees what only a forgotten snapshot used; the rest restores byte for byte and checks clean', async () => {
    const { storage, b } = await scenario();
    const packsBefore = await keysUnder(storage, 'data/');
    const report = await pruneRepository(await openRepo(storage), {});
    // a.bin's pack, z.txt's pack and A's tree pack go; the shared pack (3/4 unused) is repacked.
    assert.deepEqual({ ...report, bytesFreed: report.bytesFreed > 0 }, {
      packsDeleted: 3,
      packsRepacked: 1,
      packsKept: 2,
      bytesFreed: true,
      blobsRemoved: 16 + 1 + 12 + 4,
      indexFilesRewritten: 2,
      interruptedSavesRemoved: 0,
      dryRun: false,
    });
    const packsAfter = await keysUnder(storage, 'data/');
    assert.equal(packsAfter.length, 3, 'B data, B trees, and the repacked shared blobs');
    assert.equal(packsAfter.filter((key) => packsBefore.includes(key)).length, 2);
    assert.equal((await keysUnder(storage, 'index/')).length, 1);
    assert.ok(report.bytesFreed > 28 * CHUNK, `${report.bytesFreed} bytes freed`);
    assert.deepEqual(await readSnapshot(storage, b), FILES_B);
    await assertClean(storage);
  });

  it('a second prune does nothing, even on the same Repository object', async () => {
    const { storage } = await scenario();
    const repo = await reopen(storage);
    await pruneRepository(repo, {});
    const before = await listing(storage);
    assert.deepEqual(await pruneRepository(repo, {}), { ...NOTHING_TO_DO, packsKept: 3 });
    assert.deepEqual(await pruneRepository(await openRepo(storage), {}), { ...NOTHING_TO_DO, packsKept: 3 });
    assert.deepEqual(await listing(storage), before);
  });

  it('a dry run changes nothing and reports what the real run then does', async () => {
    const { storage } = await scenario();
    const before = await listing(storage);
    const dry = await pruneRepository(await openRepo(storage), { dryRun: true });
    assert.deepEqual(await listing(storage), before);
    const real = await pruneRepository(await openRepo(storage), {});
    assert.deepEqual({ ...dry, bytesFreed: 0, dryRun: false }, { ...real, bytesFreed: 0 });
    assert.ok(Math.abs(dry.bytesFreed - real.bytesFreed) < 200, `estimated ${dry.bytesFreed}, freed ${real.bytesFreed}`);
    assert.equal(dry.dryRun, true);
  });

  it('with no snapshot left, deletes every pack and leaves an empty index', async () => {
    const { storage, b } = await scenario();
    await storage.remove(objectKey('snapshot', b));
    const report = await pruneRepository(await openRepo(storage), {});
    assert.equal(report.packsKept, 0);
    assert.deepEqual(await keysUnder(storage, 'data/'), []);
    assert.equal((await keysUnder(storage, 'index/')).length, 1);
    await assertClean(storage);
  });

  // The shared pack is 3/4 unused: repacked when the threshold is below that, kept otherwise.
  const thresholds: [number | undefined, 'repacked' | 'kept'][] = [
    [undefined, 'repacked'],
    [0, 'repacked'],
    [0.5, 'repacked'],
    [0.74, 'repacked'],
    [0.76, 'kept'],
    [1, 'kept'],
  ];
  for (const [share, outcome] of thresholds) {
    it(`repackUnusedShare ${share ?? 'default'}: the 3/4 unused pack is ${outcome}`, async () => {
      const { storage, b } = await scenario();
      const report = await pruneRepository(await openRepo(storage), share === undefined ? {} : { repackUnusedShare: share });
      assert.equal(report.packsRepacked, outcome === 'repacked' ? 1 : 0);
      assert.equal(report.packsKept, outcome === 'repacked' ? 2 : 3);
      assert.equal(report.packsDeleted, 3);
      assert.equal(report.blobsRemoved, outcome === 'repacked' ? 33 : 21);
      assert.deepEqual(await readSnapshot(storage, b), FILES_B);
      await assertClean(storage);
    });
  }

  it('refuses a threshold outside 0..1', async () => {
    const { storage } = await scenario();
    for (const share of [-0.1, 1.5, Number.NaN]) {
      await assert.rejects(pruneRepository(await openRepo(storage), { repackUnusedShare: share }), UserError);
    }
  });

  it('stops before writing the index or deleting anything once its lock is lost', async () => {
    const { storage } = await scenario();
    const before = await listing(storage);
    const lost = new UserError('lock lost');
    const lock = {
      assertHeld(): void {
        throw lost;
      },
    };
    await assert.rejects(pruneRepository(await openRepo(storage), { lock }), (err) => err === lost);
    const after = new Set(await listing(storage));
    for (const object of before) assert.ok(after.has(object), `${object} is still there`);
    assert.deepEqual(await keysUnder(storage, 'index/'), before.filter((o) => o.startsWith('index/')).map((o) => o.split(' ')[0]));
  });

  it('deletes packs no index names (an interrupted backup) without rewriting the index', async () => {
    const { storage, b } = await scenario();
    await pruneRepository(await openRepo(storage), {});
    storage.addFault('save', { keyPrefix: 'index/' }).times(1);
    await assert.rejects(backUp(storage, { 'c.bin': seeded('c', 20 * CHUNK) }, 3));
    const indexFiles = await keysUnder(storage, 'index/');
    const check = await checkRepository(await reopen(storage), { readData: false });
    assert.equal(check.warnings.length, 3, 'two data packs and a tree pack are unindexed');
    const report = await pruneRepository(await openRepo(storage), {});
    assert.deepEqual(report, { ...NOTHING_TO_DO, packsDeleted: 3, packsKept: 3, bytesFreed: report.bytesFreed });
    assert.ok(report.bytesFreed > 20 * CHUNK);
    assert.deepEqual(await keysUnder(storage, 'index/'), indexFiles);
    assert.deepEqual(await readSnapshot(storage, b), FILES_B);
    await assertClean(storage);
  });
});

/** The id of the first chunk of `content`, as the fixture stores it. */
function firstChunkId(repo: Repository, content: Buffer): Id {
  return new ContentHasher(repo.key.contentIdKey).idOf('data', content.subarray(0, CHUNK));
}

/**
 * Rewrites B's index file (the one naming the pack of b.bin) through `edit`: without that pack, as a
 * lost index entry would leave it, or not at all (`undefined`: the file is lost).
 */
async function editBIndexFile(storage: Storage, edit: (packs: readonly IndexedPack[], bPack: Id) => IndexedPack[] | undefined): Promise<void> {
  const repo = await reopen(storage);
  const bPack = repo.index.find('data', firstChunkId(repo, FILES_B['b.bin']!))!.packId;
  const compressor = new BlobCompressor();
  for (const key of await keysUnder(storage, 'index/')) {
    const file = openIndex(repo.key.encryptionKey, await storage.load(key), compressor);
    if (!file.packs.some((pack) => pack.id === bPack)) continue;
    const packs = edit(file.packs, bPack);
    if (packs) {
      const bytes = sealIndex(repo.key.encryptionKey, { packs, supersedes: [] }, compressor);
      await storage.save(objectKey('index', sha256Id(bytes)), bytes);
    }
    await storage.remove(key);
  }
}

describe('pruneRepository refuses a damaged repository and deletes nothing', () => {
  const damage: [string, (storage: Storage, b: Id) => Promise<void>, RegExp, RegExp?][] = [
    [
      'an indexed pack is missing',
      async (storage) => storage.remove((await keysUnder(storage, 'data/'))[0]!),
      /pack [0-9a-f]{8} is missing/,
    ],
    [
      'an indexed pack has the wrong size',
      async (storage) => {
        const key = (await keysUnder(storage, 'data/'))[0]!;
        await storage.save(key, (await storage.load(key)).subarray(1));
      },
      /pack [0-9a-f]{8} has \d+ bytes, the index says \d+/,
    ],
    [
      'an index file cannot be read',
      async (storage) => {
        const garbage = Buffer.from('not an index file');
        await storage.save(objectKey('index', sha256Id(garbage)), garbage);
      },
      /index file [0-9a-f]{8} cannot be read/,
    ],
    [
      'the index misses a snapshot’s trees (its index file is gone)',
      async (storage) => editBIndexFile(storage, () => undefined),
      /tree [0-9a-f]{8} is not in the index/,
    ],
    [
      'the index misses data blobs a snapshot uses',
      async (storage) => editBIndexFile(storage, (packs, bPack) => packs.filter((pack) => pack.id !== bPack)),
      /data blob [0-9a-f]{8} of b\.bin is not in the index/,
    ],
    [
      'a snapshot cannot be read',
      async (storage, b) => storage.save(objectKey('snapshot', b), Buffer.from('garbage')),
      /snapshot [0-9a-f]{8} cannot be read/,
      /nothing was deleted.*Remove it first with `ferry forget [0-9a-f]{64}` \(or `ferry repair snapshots --forget`\)/,
    ],
  ];
  for (const [name, makeDamage, message, remedy = /nothing was deleted.*`ferry check`.*`ferry repair index`/] of damage) {
    it(name, async () => {
      const { storage, b } = await scenario();
      await makeDamage(storage, b);
      const before = await listing(storage);
      for (const dryRun of [true, false]) {
        const refused = await pruneRepository(await openRepo(storage), { dryRun }).then(
          (report: PruneReport) => assert.fail(`prune went ahead: ${JSON.stringify(report)}`),
          (err: unknown) => err,
        );
        assert.ok(refused instanceof PruneRefusedError && refused instanceof UserError, String(refused));
        assert.equal(refused.exitCode, 1);
        assert.match(refused.message, message);
        assert.match(refused.message, remedy);
      }
      assert.deepEqual(await listing(storage), before);
    });
  }

  it('a blob to repack that does not authenticate (same size): nothing existing is deleted', async () => {
    const { storage } = await scenario();
    const repo = await reopen(storage);
    const location = repo.index.find('data', firstChunkId(repo, FILES_A['docs/shared.bin']!))!;
    const key = objectKey('pack', location.packId);
    const bytes = await storage.load(key);
    bytes[location.offset + 20]! ^= 0xff;
    await storage.save(key, bytes);
    const before = await listing(storage);
    await assert.rejects(pruneRepository(await openRepo(storage), {}), (err: unknown) => err instanceof PruneRefusedError && /blob [0-9a-f]{8} in pack [0-9a-f]{8} is damaged/.test(err.message));
    const after = new Set(await listing(storage));
    for (const object of before) assert.ok(after.has(object), `${object} is still there`);
  });
});
