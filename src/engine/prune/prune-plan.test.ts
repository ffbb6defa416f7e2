import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Id } from '../../core/ids.js';
import type { IndexedPack } from '../index/index-format.js';
import { packSizeOf, type PackedBlob } from '../pack/pack-format.js';
import { estimateRepackedBytes, planPrune } from './prune-plan.js';

const id = (name: string): Id => createHash('sha256').update(name).digest('hex') as Id;

/** A pack whose blobs are named by letters; each blob is `length` bytes. */
function pack(name: string, blobs: string, length = 100): IndexedPack {
  return {
    id: id(name),
    blobs: [...blobs].map((b, i): PackedBlob => ({ type: 'data', id: id(`b${b}`), compression: 0, offset: i * length, length, rawLength: length - 28 })),
  };
}

interface Case {
  readonly name: string;
  readonly packs: IndexedPack[];
  readonly unindexed?: string[];
  readonly used: string;
  readonly share?: number;
  readonly keep: string[];
  readonly repack: [string, string][];
  readonly remove: string[];
  readonly blobsRemoved: number;
}

const cases: Case[] = [
  { name: 'fully used, fully unused', packs: [pack('1', 'ab'), pack('2', 'cd')], used: 'ab', keep: ['1'], repack: [], remove: ['2'], blobsRemoved: 2 },
  { name: 'mostly unused: repacked', packs: [pack('1', 'abcd')], used: 'a', keep: [], repack: [['1', 'a']], remove: [], blobsRemoved: 3 },
  { name: 'exactly half unused at 0.5: kept', packs: [pack('1', 'abcd')], used: 'ab', keep: ['1'], repack: [], remove: [], blobsRemoved: 0 },
  { name: 'a quarter unused at 0: repacked', packs: [pack('1', 'abcd')], used: 'abc', share: 0, keep: [], repack: [['1', 'abc']], remove: [], blobsRemoved: 1 },
  { name: 'all but one unused at 1: kept', packs: [pack('1', 'abcd')], used: 'a', share: 1, keep: ['1'], repack: [], remove: [], blobsRemoved: 0 },
  { name: 'a duplicate in an unused pack goes with it', packs: [pack('1', 'ab'), pack('2', 'ac')], used: 'ab', keep: ['1'], repack: [], remove: ['2'], blobsRemoved: 2 },
  {
    name: 'a duplicate is used where the used share is largest',
    packs: [pack('1', 'awxyz'), pack('2', 'ab')],
    used: 'ab',
    keep: ['2'],
    repack: [],
    remove: ['1'],
    blobsRemoved: 5,
  },
  {
    name: 'a duplicate twice in a repacked pack is copied once',
    packs: [pack('1', 'aaxyz')],
    used: 'a',
    keep: [],
    repack: [['1', 'a']],
    remove: [],
    blobsRemoved: 4,
  },
  { name: 'a pack without blobs is removed', packs: [pack('1', '')], used: '', keep: [], repack: [], remove: ['1'], blobsRemoved: 0 },
  { name: 'unindexed packs are listed apart', packs: [pack('1', 'a')], unindexed: ['9', '8'], used: 'a', keep: ['1'], repack: [], remove: [], blobsRemoved: 0 },
];

describe('planPrune', () => {
  for (const c of cases) {
    it(c.name, () => {
      const indexed = new Map(c.packs.map((p) => [p.id, p]));
      const stored = new Map<Id, number>([...c.packs.map((p): [Id, number] => [p.id, packSizeOf(p.blobs)]), ...(c.unindexed ?? []).map((n): [Id, number] => [id(n), 1000])]);
      const plan = planPrune(indexed, stored, new Set([...c.used].map((b) => id(`b${b}`))), c.share ?? 0.5);
      assert.deepEqual(plan.keep.map((p) => p.id), c.keep.map(id));
      assert.deepEqual(plan.repack.map((j) => [j.pack.id, j.blobs.map((b) => b.id)]), c.repack.map(([p, blobs]) => [id(p), [...blobs].map((b) => id(`b${b}`))]));
      assert.deepEqual(plan.remove, c.remove.map(id));
      assert.deepEqual(plan.unindexed, (c.unindexed ?? []).map(id).sort());
      assert.equal(plan.blobsRemoved, c.blobsRemoved);
      const deleted = [...plan.remove, ...plan.repack.map((j) => j.pack.id), ...plan.unindexed];
      assert.equal(plan.bytesToDelete, deleted.reduce((sum, p) => sum + stored.get(p)!, 0));
    });
  }
});

describe('estimateRepackedBytes', () => {
  it('is the size of the pack the blobs make, with a header per extra pack', () => {
    const job = { pack: pack('1', 'abcd'), blobs: pack('1', 'abc').blobs };
    assert.equal(estimateRepackedBytes([job], 1 << 20), packSizeOf(job.blobs));
    assert.equal(estimateRepackedBytes([job], 100), packSizeOf(job.blobs) + 2 * packSizeOf([]));
    assert.equal(estimateRepackedBytes([], 100), 0);
  });
});
