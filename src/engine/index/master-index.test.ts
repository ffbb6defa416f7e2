import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Id } from '../../core/ids.js';
import { packSizeOf, type PackedBlob } from '../pack/pack-format.js';
import { blobTypeArb, compressionArb, u32Arb, U32_MAX } from '../testing/arbitraries.js';
import { MAX_COMPACT_OFFSET } from './blob-table.js';
import { encodeIndex, scanIndex } from './index-format.js';
import { MasterIndex, type BlobLocation } from './master-index.js';

fc.configureGlobal({ seed: 42, numRuns: 100 });

/**
 * Ids drawn from a small pool so they repeat, including pairs that differ only after byte 16 (one blob
 * to a compact index, two to a full one) and pairs that differ only in the shard bits (bytes 14–15).
 */
const BASES = Array.from({ length: 12 }, (_, i) => randomBytesSeeded(i));
const idArb: fc.Arbitrary<Id> = fc
  .tuple(fc.nat({ max: BASES.length - 1 }), fc.constantFrom('same', 'tail', 'shard', 'low12'), fc.nat({ max: 3 }))
  .map(([base, variant, n]) => {
    const bytes = Buffer.from(BASES[base]!);
    if (variant === 'tail') bytes[31] = n;
    if (variant === 'shard') bytes[15] = n << 4;
    if (variant === 'low12') bytes[12] = n; // bytes 12–13 play no part in a compact key: same blob
    return bytes.toString('hex') as Id;
  });
const packIdArb: fc.Arbitrary<Id> = fc.nat({ max: 5 }).map((n) => n.toString(16).padStart(2, '0').repeat(32) as Id);
const offsetArb = fc.oneof(fc.integer({ min: 0, max: MAX_COMPACT_OFFSET }), fc.constant(MAX_COMPACT_OFFSET), fc.integer({ min: MAX_COMPACT_OFFSET + 1, max: U32_MAX }));
const blobArb: fc.Arbitrary<PackedBlob> = fc.record({ type: blobTypeArb, id: idArb, compression: compressionArb, offset: offsetArb, length: u32Arb, rawLength: u32Arb });
const packArb = fc.record({ id: packIdArb, blobs: fc.array(blobArb, { maxLength: 6 }) });

type Op =
  | { kind: 'addPack'; pack: { id: Id; blobs: PackedBlob[] } }
  | { kind: 'addScanned'; packs: { id: Id; blobs: PackedBlob[] }[] }
  | { kind: 'query'; id: Id }
  | { kind: 'clear' };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: packArb.map((pack) => ({ kind: 'addPack' as const, pack })) },
  { weight: 2, arbitrary: fc.array(packArb, { maxLength: 3 }).map((packs) => ({ kind: 'addScanned' as const, packs })) },
  { weight: 4, arbitrary: idArb.map((id) => ({ kind: 'query' as const, id })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
);

/** The id a compact index tells apart: bytes 0–11 and the 12 shard bits (the top of bytes 12–15 read little-endian). */
const compactKey = (id: Id): string => `${id.slice(0, 24)}:${Buffer.from(id, 'hex').readUInt32LE(12) >>> 20}`;

/** The old MasterIndex, on Maps: what the compact one must agree with. */
class ModelIndex {
  readonly blobs = new Map<string, BlobLocation>();
  readonly packs = new Map<Id, number>();
  constructor(private readonly keyOf: (id: Id) => string) {}
  addPack(packId: Id, blobs: readonly PackedBlob[], firstListingWins: boolean): void {
    if (firstListingWins && this.packs.has(packId)) return;
    for (const blob of blobs) if (!this.blobs.has(this.keyOf(blob.id))) this.blobs.set(this.keyOf(blob.id), { ...blob, packId });
    this.packs.set(packId, packSizeOf(blobs));
  }
  lookup(id: Id): BlobLocation | undefined {
    const found = this.blobs.get(this.keyOf(id));
    return found && { ...found, id };
  }
}

function check(index: MasterIndex, model: ModelIndex, ids: Id[]): void {
  for (const id of ids) {
    assert.deepEqual(index.lookup(id), model.lookup(id));
    assert.equal(index.has(id), model.lookup(id) !== undefined);
    for (const type of ['data', 'tree'] as const) assert.deepEqual(index.find(type, id), model.lookup(id)?.type === type ? model.lookup(id) : undefined);
  }
  assert.equal(index.blobCount, model.blobs.size);
  assert.deepEqual([...index.packs()], [...model.packs]);
  assert.equal(index.packs().size, model.packs.size);
  for (const packId of model.packs.keys()) {
    assert.ok(index.hasPack(packId));
    assert.equal(index.packs().get(packId), model.packs.get(packId));
  }
  assert.equal(index.hasPack('ff'.repeat(32) as Id), false);
  assert.equal(index.packs().get('ff'.repeat(32) as Id), undefined);
  if (index.fullIds) {
    const byId = (a: BlobLocation, b: BlobLocation): number => a.id.localeCompare(b.id);
    assert.deepEqual([...index.entries()].sort(byId), [...model.blobs.values()].sort(byId));
  }
}

function run(fullIds: boolean, ops: Op[]): void {
  const index = new MasterIndex({ fullIds });
  const model = new ModelIndex(fullIds ? (id) => id : compactKey);
  const seen: Id[] = [];
  for (const op of ops) {
    if (op.kind === 'addPack') {
      index.addPack(op.pack.id, op.pack.blobs);
      model.addPack(op.pack.id, op.pack.blobs, false);
      seen.push(...op.pack.blobs.map((b) => b.id));
    } else if (op.kind === 'addScanned') {
      const bytes = encodeIndex({ packs: op.packs, supersedes: [] });
      const { packs } = scanIndex(bytes);
      packs.forEach((scanned, i) => {
        const pack = op.packs[i]!;
        assert.equal(index.addScannedPack(bytes, scanned), !model.packs.has(pack.id));
        model.addPack(pack.id, pack.blobs, true);
        seen.push(...pack.blobs.map((b) => b.id));
      });
    } else if (op.kind === 'clear') {
      index.clear();
      model.blobs.clear();
      model.packs.clear();
    } else {
      seen.push(op.id);
    }
    check(index, model, seen);
  }
}

describe('MasterIndex', () => {
  it('agrees with a map on random operations (compact: ids told apart by 108 bits)', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 30 }), (ops) => run(false, ops)));
  });

  it('agrees with a map on random operations (full ids)', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 30 }), (ops) => run(true, ops)));
  });

  it('a compact index refuses to list entries; a full one lists them', () => {
    const blob: PackedBlob = { type: 'data', id: 'ab'.repeat(32) as Id, compression: 0, offset: 0, length: 10, rawLength: 10 };
    const compact = new MasterIndex();
    compact.addPack('01'.repeat(32) as Id, [blob]);
    assert.throws(() => [...compact.entries()], /full ids/);
    const full = new MasterIndex({ fullIds: true });
    full.addPack('01'.repeat(32) as Id, [blob]);
    assert.deepEqual([...full.entries()], [{ ...blob, packId: '01'.repeat(32) }]);
    compact.clear({ fullIds: true });
    assert.equal(compact.blobCount, 0);
    assert.equal(compact.packs().size, 0);
    assert.deepEqual([...compact.entries()], []);
  });

  it('finds every one of 60 000 random blobs across shard growths, and no other', () => {
    for (const fullIds of [false, true]) {
      const index = new MasterIndex({ fullIds });
      const raw = randomBytes(32 * 60_000);
      const ids = Array.from({ length: 60_000 }, (_, i) => raw.toString('hex', 32 * i, 32 * i + 32) as Id);
      const packs = 600;
      for (let p = 0; p < packs; p++) {
        const blobs = ids.slice(p * 100, (p + 1) * 100).map((id, i) => ({ type: 'data' as const, id, compression: 0 as const, offset: i * 7, length: 7, rawLength: p }));
        index.addPack(p.toString(16).padStart(64, '0') as Id, blobs);
      }
      assert.equal(index.blobCount, ids.length);
      assert.equal(index.packs().size, packs);
      ids.forEach((id, i) => {
        const found = index.lookup(id);
        assert.ok(found, `blob ${i}`);
        assert.equal(found.rawLength, Math.floor(i / 100));
        assert.equal(found.offset, (i % 100) * 7);
        assert.equal(found.packId, Math.floor(i / 100).toString(16).padStart(64, '0'));
      });
      const other = randomBytes(32 * 10_000);
      for (let i = 0; i < 10_000; i++) assert.equal(index.has(other.toString('hex', 32 * i, 32 * i + 32) as Id), false);
      if (fullIds) assert.deepEqual(new Set([...index.entries()].map((e) => e.id)), new Set(ids));
    }
  });
});

function randomBytesSeeded(seed: number): Buffer {
  const out = Buffer.alloc(32);
  let x = (seed + 1) * 2654435761;
  for (let i = 0; i < 32; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out[i] = x & 0xff;
  }
  return out;
}
