import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Id } from '../../core/ids.js';
import { MemoryStorage } from '../../storage/memory-storage.js';
import { sha256Id } from '../crypto/sha256.js';
import { INSECURE_TEST_KDF } from '../crypto/key-slot.js';
import { Repository, type RepositoryContext } from '../repository/repository.js';
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
