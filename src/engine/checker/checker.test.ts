import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Id } from '../../core/ids.js';
import { MemoryStorage } from '../../storage/memory-storage.js';
import { sha256Id } from '../crypto/sha256.js';
import { INSECURE_TEST_KDF } from '../crypto/key-slot.js';
import { Repository, type RepositoryContext } from '../repository/repository.js';
import { objectKey } from '../../storage/layout.js';
import { backupDir, context as fixtureContext, newRepository, password, reopen, seededBytes, tempDir, writeFiles, type TempDir } from '../repair/testing/repair-fixture.js';
import { checkRepository, selectPacks } from './checker.js';

const context: RepositoryContext = { clock: { now: () => Date.UTC(2026, 10, 25) }, hostname: 'test-host', username: 'tester' };
const ids = (n: number, seed = 'p'): Id[] => Array.from({ length: n }, (_, i) => sha256Id(Buffer.from(`${seed}${i}`)));
const noRandom = (): number => {
  throw new Error('a part subset must not use randomness');
};

describe('selectPacks', () => {
  it('the t parts of n/t cover every pack exactly once, for many t', () => {
    const all = ids(1000);
    for (const of of [1, 2, 3, 5, 7, 16, 100, 257, 2000]) {
      const seen = new Map<Id, number>();
      for (let n = 1; n <= of; n++) for (const id of selectPacks(all, { kind: 'part', n, of }, noRandom)) seen.set(id, (seen.get(id) ?? 0) + 1);
      assert.equal(seen.size, all.length, `t=${of}: every pack is in a part`);
      assert.ok([...seen.values()].every((count) => count === 1), `t=${of}: no pack is in two parts`);
    }
  });

  it('a part is deterministic, does not move when packs are added, and holds about its share', () => {
    const all = ids(3000);
    const part = selectPacks(all, { kind: 'part', n: 2, of: 3 }, noRandom);
    assert.deepEqual(selectPacks([...all].reverse(), { kind: 'part', n: 2, of: 3 }, noRandom), part);
    const grown = selectPacks([...all, ...ids(500, 'q')], { kind: 'part', n: 2, of: 3 }, noRandom);
    assert.ok(part.every((id) => grown.includes(id)));
    assert.ok(Math.abs(part.length - 1000) < 150, `got ${part.length} of 3000`);
  });

  it('parts split the id space in order', () => {
    assert.deepEqual(selectPacks(['0'.repeat(64), '8'.repeat(64), 'f'.repeat(64)] as Id[], { kind: 'part', n: 1, of: 2 }, noRandom), ['0'.repeat(64)]);
    assert.deepEqual(selectPacks(['0'.repeat(64), '8'.repeat(64), 'f'.repeat(64)] as Id[], { kind: 'part', n: 2, of: 2 }, noRandom), ['8'.repeat(64), 'f'.repeat(64)]);
  });

  it('a percentage draws that share, rounded up, without repeats', () => {
    const all = ids(30);
    for (const [percent, expected] of [[10, 3], [100, 30], [1, 1], [50, 15], [33.4, 11]] as const) {
      const picked = selectPacks(all, { kind: 'percent', percent }, Math.random);
      assert.equal(picked.length, expected, `${percent}%`);
      assert.equal(new Set(picked).size, picked.length);
      assert.ok(picked.every((id) => all.includes(id)));
    }
    assert.deepEqual(selectPacks([], { kind: 'percent', percent: 50 }, Math.random), []);
  });
});

describe('check --read-data-subset', () => {
  it('reads only the packs of the subset; the parts together read each pack once', async () => {
    const storage = new MemoryStorage();
    const repo = await Repository.init(storage, 'pw', context, { kdf: INSECURE_TEST_KDF, packSize: 64 * 1024 });
    const writer = repo.createWriter();
    for (let i = 0; i < 40; i++) await writer.save('data', randomBytes(70 * 1024));
    await writer.flush();
    const packs = repo.index.packs().size;
    let read = 0;
    for (let n = 1; n <= 3; n++) {
      const report = await checkRepository(await Repository.open(storage, 'pw', context), { readData: false, readSubset: { kind: 'part', n, of: 3 } });
      assert.deepEqual(report.errors, []);
      assert.ok(report.packsRead > 0 && report.packsRead < packs);
      read += report.packsRead;
    }
    assert.equal(read, packs);
    const sample = await checkRepository(await Repository.open(storage, 'pw', context), { readData: false, readSubset: { kind: 'percent', percent: 25 }, random: () => 0.5 });
    assert.equal(sample.packsRead, Math.ceil(packs / 4));
  });
});

describe('check with a damaged snapshot or index file', () => {
  let tmp: TempDir;
  before(async () => {
    tmp = await tempDir();
    await writeFiles(`${tmp.path}/a`, { 'a.bin': seededBytes(1, 20_000) });
    await writeFiles(`${tmp.path}/b`, { 'b.bin': seededBytes(2, 30_000) });
  });
  after(() => tmp.cleanup());

  async function flipBit(storage: MemoryStorage, key: string): Promise<void> {
    const bytes = Buffer.from(await storage.load(key));
    bytes[bytes.length >> 1]! ^= 0x04;
    await storage.remove(key);
    await storage.save(key, bytes);
  }

  it('names a snapshot file that does not open and checks the others', async () => {
    const { storage, repo } = await newRepository();
    await backupDir(repo, `${tmp.path}/a`);
    const bad = await backupDir(repo, `${tmp.path}/b`);
    await flipBit(storage, objectKey('snapshot', bad));
    const report = await checkRepository(await Repository.open(storage, password, fixtureContext), { readData: true });
    assert.deepEqual(report.unreadableSnapshots.map((u) => u.id), [bad]);
    assert.equal(report.snapshotsChecked, 2);
    assert.equal(report.errors.length, 1, report.errors.join('\n'));
    assert.match(report.errors[0]!, new RegExp(`^snapshot file snapshots/${bad} cannot be read \\(authentication failed.*\\): remove it with \`ferry forget ${bad}\` or \`ferry repair snapshots --forget\`$`));
  });

  it('a damaged index file: its packs are needed (an error saying repair index), a leftover pack is harmless; repair index makes it whole', async () => {
    const { storage, repo } = await newRepository();
    await backupDir(repo, `${tmp.path}/a`);
    // A leftover of an interrupted backup: a pack whose index file never got written.
    const packsOfA = new Set(await repo.listIds('pack'));
    const writer = repo.createWriter();
    await writer.save('data', seededBytes(3, 5000));
    await writer.flush();
    const [leftoverPack] = (await repo.listIds('pack')).filter((id) => !packsOfA.has(id));
    await removeIndexNaming(storage, repo, leftoverPack!);
    const indexBefore = new Set(await repo.listIds('index'));
    const packsBefore = new Set(await repo.listIds('pack'));

    const b = await backupDir(await reopen(storage), `${tmp.path}/b`);
    const bIndex = (await repo.listIds('index')).filter((id) => !indexBefore.has(id));
    assert.equal(bIndex.length, 1);
    const bPacks = (await repo.listIds('pack')).filter((id) => !packsBefore.has(id));
    await flipBit(storage, objectKey('index', bIndex[0]!));

    const report = await checkRepository(await Repository.open(storage, password, fixtureContext), { readData: false });
    assert.deepEqual(report.unreadableIndexFiles.map((u) => u.id), bIndex);
    assert.ok(report.errors.some((e) => e.startsWith(`index file index/${bIndex[0]} cannot be read`) && e.includes('`ferry repair index`')), report.errors.join('\n'));
    for (const pack of bPacks) {
      assert.ok(report.errors.some((e) => e.startsWith(`pack ${pack} is not in the index, but snapshots ${b.slice(0, 8)} need`) && e.endsWith('run `ferry repair index`, which rebuilds the index from the packs; nothing is lost')), report.errors.join('\n'));
      assert.ok(!report.warnings.some((w) => w.includes(pack.slice(0, 8))), 'a needed pack is never called harmless');
    }
    assert.deepEqual(report.warnings.filter((w) => w.includes('harmless')).map((w) => w.slice(5, 13)), [leftoverPack!.slice(0, 8)]);
    assert.ok(!report.errors.some((e) => e.includes('nor in any pack')), 'every blob was found in some pack');

    const { repairIndex } = await import('../repair/repair-index.js');
    await repairIndex(await Repository.open(storage, password, fixtureContext));
    const repaired = await checkRepository(await reopen(storage), { readData: true });
    assert.deepEqual(repaired.errors, []);
  });
});

/** Replaces the index file naming `packId` by one without it (the pack becomes unindexed). */
async function removeIndexNaming(storage: MemoryStorage, repo: Repository, packId: Id): Promise<void> {
  const { readIndexFiles, writeIndexFiles } = await import('../index/index-set.js');
  const { files } = await readIndexFiles(storage, repo.key.encryptionKey);
  for (const [id, file] of files) {
    if (!file.packs.some((p) => p.id === packId)) continue;
    await writeIndexFiles(storage, repo.key.encryptionKey, file.packs.filter((p) => p.id !== packId), []);
    await storage.remove(objectKey('index', id));
  }
}
