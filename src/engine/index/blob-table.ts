/**
 * The blob half of the in-memory index: blob id → (pack number, type, compression, offset, length, raw
 * length) in open-addressing hash tables over `Uint32Array`s, with no object per blob. See
 * docs/repository-format.md, section 9.1, for the layout and why a 108-bit key is enough.
 *
 * A key is read straight from the 32 id bytes. The table is split into {@link SHARDS} shards by 12 bits
 * of id bytes 12–15; each shard is a linear-probing table whose slots hold the key words, then the
 * pack number plus one (0 marks an empty slot), the offset with the type and compression in its top
 * two bits, the length and the raw length. A compact table keeps id bytes 0–11 as its key (with the
 * 12 shard bits, 108 bits of the id take part in every comparison), a full one all 32 bytes.
 *
 * Shards grow one at a time by {@link GROWTH}, and their capacities are staggered (shard s of growth
 * step k holds `8 × 1.25^(k + s / SHARDS)` slots), so at any size the shards are spread evenly over
 * their growth cycle: the average load stays near 0.81 instead of swinging between 0.45 and 0.9, and
 * a growth briefly needs the memory of one shard, not of the whole table.
 */

const SHARD_BITS = 12;
export const SHARDS = 1 << SHARD_BITS;
const GROWTH = 1.25;
const MAX_LOAD = 0.9;
const BASE_CAPACITY = 8;

/** Offsets from 2^30 on do not fit beside the two flag bits; {@link BlobTable.insert} refuses them. */
export const MAX_COMPACT_OFFSET = 2 ** 30 - 1;
const OFFSET_MASK = 0x3fff_ffff;
const TYPE_BIT = 0x4000_0000;
const COMPRESSION_BIT = 0x8000_0000;
const UINT32_MAX = 0xffff_ffff;

/** One entry's fields as the table stores them; reused by callers to avoid an object per lookup. */
export interface BlobRecord {
  /** Index into the pack table. */
  packNumber: number;
  /** 0 data, 1 tree. */
  type: number;
  /** 0 none, 1 zstd. */
  compression: number;
  offset: number;
  length: number;
  rawLength: number;
}

export function emptyRecord(): BlobRecord {
  return { packNumber: 0, type: 0, compression: 0, offset: 0, length: 0, rawLength: 0 };
}

const readU32 = (bytes: Uint8Array, at: number): number =>
  (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;

/** The shard of the 32-byte id at `at`: the top 12 bits of bytes 12–15 read as a little-endian u32. */
export const shardOf = (id: Uint8Array, at: number): number => readU32(id, at + 12) >>> (32 - SHARD_BITS);

export class BlobTable {
  private readonly keyWords: number;
  private readonly slotWords: number;
  private readonly shards: (Uint32Array | undefined)[] = new Array<Uint32Array | undefined>(SHARDS).fill(undefined);
  private readonly counts = new Uint32Array(SHARDS);
  private readonly steps = new Uint8Array(SHARDS);
  private count = 0;
  /** The key of the current operation, read once from the id bytes. */
  private readonly key = new Uint32Array(8);

  /** With `fullIds` every id byte is kept and {@link entries} can report ids; else only the first 12. */
  constructor(readonly fullIds: boolean) {
    this.keyWords = fullIds ? 8 : 3;
    this.slotWords = this.keyWords + 4;
  }

  get size(): number {
    return this.count;
  }

  /** Bytes held by the shards' arrays. */
  get byteLength(): number {
    let bytes = 0;
    for (const shard of this.shards) bytes += shard?.byteLength ?? 0;
    return bytes;
  }

  /** Fills `out` with the entry of the 32-byte id at `at` in `id`; false when there is none. */
  get(id: Uint8Array, at: number, out: BlobRecord): boolean {
    const shardIndex = this.loadKey(id, at);
    const shard = this.shards[shardIndex];
    if (!shard) return false;
    const slot = this.probe(shard);
    if (slot < 0) return false;
    const base = slot * this.slotWords + this.keyWords;
    out.packNumber = shard[base]! - 1;
    const flagged = shard[base + 1]!;
    out.offset = flagged & OFFSET_MASK;
    out.type = flagged & TYPE_BIT ? 1 : 0;
    out.compression = flagged & COMPRESSION_BIT ? 1 : 0;
    out.length = shard[base + 2]!;
    out.rawLength = shard[base + 3]!;
    return true;
  }

  has(id: Uint8Array, at: number): boolean {
    const shard = this.shards[this.loadKey(id, at)];
    return shard !== undefined && this.probe(shard) >= 0;
  }

  /**
   * Adds the entry unless the id is already there (the first entry wins); returns whether it was added.
   * The record must fit: pack number below 2^32 − 1, offset at most {@link MAX_COMPACT_OFFSET}, type and
   * compression 0 or 1, lengths below 2^32 (RangeError otherwise).
   */
  insert(id: Uint8Array, at: number, record: BlobRecord): boolean {
    if (!fits(record)) throw new RangeError('a blob entry does not fit the compact index');
    const shardIndex = this.loadKey(id, at);
    let shard = this.shards[shardIndex];
    // Grown before looking, so one probe finds either the entry or the free slot for it.
    if (!shard || (this.counts[shardIndex]! + 1) * this.slotWords > MAX_LOAD * shard.length) shard = this.grow(shardIndex);
    const slot = this.probe(shard);
    if (slot >= 0) return false;
    const base = ~slot * this.slotWords;
    const keyWords = this.keyWords;
    for (let w = 0; w < keyWords; w++) shard[base + w] = this.key[w]!;
    shard[base + keyWords] = record.packNumber + 1;
    shard[base + keyWords + 1] = packFlags(record);
    shard[base + keyWords + 2] = record.length;
    shard[base + keyWords + 3] = record.rawLength;
    this.counts[shardIndex]!++;
    this.count++;
    return true;
  }

  /**
   * Sizes empty shards for about `blobs` entries in all, so a bulk load does not grow them step by step
   * (each growth moves every entry of the shard). Does nothing to shards that hold entries.
   */
  reserve(blobs: number): void {
    // A small index is better off with shards made as they are needed.
    if (!(blobs >= SHARDS * BASE_CAPACITY)) return;
    const perShard = blobs / SHARDS / MAX_LOAD;
    for (let shardIndex = 0; shardIndex < SHARDS; shardIndex++) {
      if (this.counts[shardIndex] !== 0) continue;
      let step = 0;
      while (capacityOf(step, shardIndex) < perShard && step < 255) step++;
      if (this.shards[shardIndex] && this.steps[shardIndex]! >= step) continue;
      this.shards[shardIndex] = new Uint32Array(capacityOf(step, shardIndex) * this.slotWords);
      this.steps[shardIndex] = step;
    }
  }

  /**
   * Every entry: its full id (32 bytes) and record, both reused from one step to the next. Full tables
   * only (a compact one throws). Adding entries during the iteration is not allowed.
   */
  *entries(): IterableIterator<[Uint8Array, BlobRecord]> {
    if (!this.fullIds) throw new Error('a compact index keeps only id prefixes: load the index with full ids to list its entries');
    const id = new Uint8Array(32);
    const record = emptyRecord();
    const pair: [Uint8Array, BlobRecord] = [id, record];
    for (const shard of this.shards) {
      if (!shard) continue;
      for (let base = 0; base < shard.length; base += this.slotWords) {
        const pack = shard[base + 8]!;
        if (pack === 0) continue;
        for (let w = 0; w < 8; w++) {
          const word = shard[base + w]!;
          id[4 * w] = word;
          id[4 * w + 1] = word >>> 8;
          id[4 * w + 2] = word >>> 16;
          id[4 * w + 3] = word >>> 24;
        }
        record.packNumber = pack - 1;
        const flagged = shard[base + 9]!;
        record.offset = flagged & OFFSET_MASK;
        record.type = flagged & TYPE_BIT ? 1 : 0;
        record.compression = flagged & COMPRESSION_BIT ? 1 : 0;
        record.length = shard[base + 10]!;
        record.rawLength = shard[base + 11]!;
        yield pair;
      }
    }
  }

  /** Reads the key words of the id into {@link key}; returns its shard. */
  private loadKey(id: Uint8Array, at: number): number {
    const key = this.key;
    for (let w = 0; w < this.keyWords; w++) key[w] = readU32(id, at + 4 * w);
    return shardOf(id, at);
  }

  /** The slot holding {@link key}, or the bitwise complement (negative) of the free slot where it belongs. */
  private probe(shard: Uint32Array): number {
    const key = this.key;
    const keyWords = this.keyWords;
    const slotWords = this.slotWords;
    const capacity = (shard.length / slotWords) | 0;
    const first = key[0]!;
    for (let slot = homeSlot(first, capacity); ; slot = slot + 1 === capacity ? 0 : slot + 1) {
      const base = slot * slotWords;
      if (shard[base + keyWords] === 0) return ~slot;
      if (shard[base] !== first) continue;
      let w = 1;
      while (w < keyWords && shard[base + w] === key[w]) w++;
      if (w === keyWords) return slot;
    }
  }

  /** Replaces the shard by one a growth step larger, moving its entries. */
  private grow(shardIndex: number): Uint32Array {
    const old = this.shards[shardIndex];
    const step = old ? this.steps[shardIndex]! + 1 : 0;
    const { keyWords, slotWords } = this;
    const capacity = capacityOf(step, shardIndex);
    const shard = new Uint32Array(capacity * slotWords);
    if (old) {
      for (let from = 0; from < old.length; from += slotWords) {
        if (old[from + keyWords] === 0) continue;
        let slot = homeSlot(old[from]!, capacity);
        while (shard[slot * slotWords + keyWords] !== 0) slot = slot + 1 === capacity ? 0 : slot + 1;
        for (let w = 0, to = slot * slotWords; w < slotWords; w++) shard[to + w] = old[from + w]!;
      }
    }
    this.shards[shardIndex] = shard;
    this.steps[shardIndex] = step;
    return shard;
  }
}

/** Where a key's probe starts: its first word (uniformly random) modulo the capacity, in int32 arithmetic. */
const homeSlot = (word0: number, capacity: number): number => ((word0 >>> 1) % capacity) | 0;

/** Slots of a shard at a growth step: staggered across shards by a fraction of a step. */
const capacityOf = (step: number, shardIndex: number): number => Math.ceil(BASE_CAPACITY * GROWTH ** (step + shardIndex / SHARDS));

function fits(record: BlobRecord): boolean {
  return (
    Number.isInteger(record.packNumber) && record.packNumber >= 0 && record.packNumber < UINT32_MAX &&
    Number.isInteger(record.offset) && record.offset >= 0 && record.offset <= MAX_COMPACT_OFFSET &&
    (record.type === 0 || record.type === 1) && (record.compression === 0 || record.compression === 1) &&
    Number.isInteger(record.length) && record.length >= 0 && record.length <= UINT32_MAX &&
    Number.isInteger(record.rawLength) && record.rawLength >= 0 && record.rawLength <= UINT32_MAX
  );
}

function packFlags(record: BlobRecord): number {
  return (record.offset | (record.type ? TYPE_BIT : 0) | (record.compression ? COMPRESSION_BIT : 0)) >>> 0;
}
