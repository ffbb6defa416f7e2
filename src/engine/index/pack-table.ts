import { ID_BYTES, type Id } from '../../core/ids.js';

/**
 * The pack half of the in-memory index: packs numbered in the order they were added, their 32-byte ids
 * side by side in one buffer, their expected sizes in a `Float64Array`, and an open-addressing table of
 * numbers for the id → number direction. A pack costs about 50 bytes, where a `Map` of hex ids costs
 * about 150.
 */
export class PackTable {
  private ids = Buffer.alloc(16 * ID_BYTES);
  private sizes = new Float64Array(16);
  private count = 0;
  /** Pack number + 1 by hash of the id; 0 is empty. Power-of-two capacity, at most half full. */
  private slots = new Uint32Array(64);
  private readonly scratch = Buffer.alloc(ID_BYTES);

  get size(): number {
    return this.count;
  }

  get byteLength(): number {
    return this.ids.byteLength + this.sizes.byteLength + this.slots.byteLength;
  }

  /** The number of the pack whose 32-byte id is at `at` in `id`, or −1. */
  numberOf(id: Uint8Array, at = 0): number {
    const slot = this.probe(id, at);
    return this.slots[slot]! - 1;
  }

  /** Like {@link numberOf}, for a hex id. */
  numberOfId(id: Id): number {
    this.scratch.write(id, 'hex');
    return this.numberOf(this.scratch);
  }

  /** The pack's number, adding it (with size 0) when it is new. */
  add(id: Uint8Array, at = 0): number {
    let slot = this.probe(id, at);
    if (this.slots[slot] !== 0) return this.slots[slot]! - 1;
    if ((this.count + 1) * 2 > this.slots.length) {
      this.rehash(this.slots.length * 2);
      slot = this.probe(id, at);
    }
    if (this.count === this.sizes.length) this.growArrays();
    const number = this.count++;
    this.ids.set(id.subarray(at, at + ID_BYTES), number * ID_BYTES);
    this.sizes[number] = 0;
    this.slots[slot] = number + 1;
    return number;
  }

  addId(id: Id): number {
    this.scratch.write(id, 'hex');
    return this.add(this.scratch);
  }

  idOf(number: number): Id {
    return this.ids.toString('hex', number * ID_BYTES, (number + 1) * ID_BYTES) as Id;
  }

  sizeOf(number: number): number {
    return this.sizes[number]!;
  }

  setSize(number: number, size: number): void {
    this.sizes[number] = size;
  }

  /** The slot holding the id, or the empty slot where it would go. */
  private probe(id: Uint8Array, at: number): number {
    const mask = this.slots.length - 1;
    // Pack ids are SHA-256 digests, but ids made up by tests and tools often share their first bytes.
    let hash = 0;
    for (let i = 0; i < ID_BYTES; i += 4) hash = Math.imul(hash ^ (id[at + i]! | (id[at + i + 1]! << 8) | (id[at + i + 2]! << 16) | (id[at + i + 3]! << 24)), 0x9e3779b1);
    hash ^= hash >>> 16;
    hash = Math.imul(hash, 0x85ebca6b);
    hash ^= hash >>> 13;
    let slot = (hash >>> 0) & mask;
    for (;;) {
      const held = this.slots[slot]!;
      if (held === 0 || this.sameId(held - 1, id, at)) return slot;
      slot = (slot + 1) & mask;
    }
  }

  private sameId(number: number, id: Uint8Array, at: number): boolean {
    const base = number * ID_BYTES;
    for (let i = 0; i < ID_BYTES; i++) if (this.ids[base + i] !== id[at + i]) return false;
    return true;
  }

  private rehash(capacity: number): void {
    this.slots = new Uint32Array(capacity);
    for (let number = 0; number < this.count; number++) this.slots[this.probe(this.ids, number * ID_BYTES)] = number + 1;
  }

  private growArrays(): void {
    const capacity = Math.ceil(this.sizes.length * 1.5);
    const ids = Buffer.alloc(capacity * ID_BYTES);
    this.ids.copy(ids);
    this.ids = ids;
    const sizes = new Float64Array(capacity);
    sizes.set(this.sizes);
    this.sizes = sizes;
  }
}
