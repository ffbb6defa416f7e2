import { ID_BYTES, type Id } from '../../core/ids.js';
import { packSizeFor, packSizeOf, type BlobType, type PackedBlob } from '../pack/pack-format.js';
import { BlobTable, emptyRecord, MAX_COMPACT_OFFSET, shardOf, type BlobRecord } from './blob-table.js';
import { ENTRY, ENTRY_BYTES, type ScannedPack } from './index-format.js';
import { PackTable } from './pack-table.js';

/** Where a blob is stored. */
export interface BlobLocation extends PackedBlob {
  readonly packId: Id;
}

export interface MasterIndexOptions {
  /**
   * Keep all 32 bytes of every blob id (about 60 bytes a blob instead of about 36), so {@link
   * MasterIndex.entries} can list them. For commands that rewrite the index or judge what is garbage.
   */
  readonly fullIds?: boolean;
}

/**
 * The in-memory union of all index files: blob id → location, plus the set of indexed packs.
 * When a blob is stored in several packs (after a crash or concurrent backups), the first one wins.
 *
 * Nothing is kept as an object per blob: blobs live in a {@link BlobTable} (typed arrays, about 36
 * bytes a blob at any size), packs in a {@link PackTable}. A compact index (the default) compares blob
 * ids on 108 of their 256 bits; docs/repository-format.md (9.1) gives the reasoning. The rare entry
 * that does not fit the table (an offset of 1 GiB or more) is kept in a plain map beside it.
 * Not safe for concurrent use from several threads; single-threaded async use is fine.
 */
export class MasterIndex {
  private table: BlobTable;
  /** Entries the table cannot hold, by {@link overflowKey}. */
  private readonly overflow = new Map<string, BlobLocation>();
  private packTable = new PackTable();
  private readonly packView: ReadonlyMap<Id, number> = new PackSizes(() => this.packTable);
  private readonly scratch = Buffer.alloc(ID_BYTES);
  private readonly record: BlobRecord = emptyRecord();

  constructor(options: MasterIndexOptions = {}) {
    this.table = new BlobTable(options.fullIds ?? false);
  }

  /** Removes every blob and pack; `options` can change whether whole ids are kept from now on. */
  clear(options: MasterIndexOptions = {}): void {
    this.table = new BlobTable(options.fullIds ?? this.table.fullIds);
    this.overflow.clear();
    this.packTable = new PackTable();
  }

  /** Whether {@link entries} works (see {@link MasterIndexOptions.fullIds}). */
  get fullIds(): boolean {
    return this.table.fullIds;
  }

  /**
   * Adds a pack and its blobs; blobs already indexed keep their first location. Adding a pack again adds
   * its new blobs and replaces its expected size.
   */
  addPack(packId: Id, blobs: readonly PackedBlob[]): void {
    const packNumber = this.packTable.addId(packId);
    const record = this.record;
    for (const blob of blobs) {
      this.scratch.write(blob.id, 'hex');
      if (this.has(blob.id)) continue;
      record.packNumber = packNumber;
      record.type = blob.type === 'tree' ? 1 : 0;
      record.compression = blob.compression;
      record.offset = blob.offset;
      record.length = blob.length;
      record.rawLength = blob.rawLength;
      if (blob.offset <= MAX_COMPACT_OFFSET) this.table.insert(this.scratch, 0, record);
      else this.overflow.set(this.overflowKey(blob.id), { ...blob, packId });
    }
    this.packTable.setSize(packNumber, packSizeOf(blobs));
  }

  /** Prepares an empty index for about `blobs` blobs (a bulk load then skips most table growth). */
  reserve(blobs: number): void {
    if (this.table.size === 0) this.table.reserve(blobs);
  }

  /**
   * The index loader's path: adds the pack `scanned` describes in the encoded index `bytes` (see
   * {@link scanIndex}), reading its entries in place, unless the pack is already indexed (then it returns
   * false and adds nothing: the first listing of a pack wins).
   */
  addScannedPack(bytes: Buffer, scanned: ScannedPack): boolean {
    if (this.packTable.numberOf(bytes, scanned.idAt) >= 0) return false;
    const packNumber = this.packTable.add(bytes, scanned.idAt);
    const record = this.record;
    let blobBytes = 0;
    for (let i = 0, at = scanned.entriesAt; i < scanned.count; i++, at += ENTRY_BYTES) {
      record.packNumber = packNumber;
      record.type = bytes[at + ENTRY.type]!;
      record.compression = bytes[at + ENTRY.compression]!;
      record.offset = bytes.readUInt32LE(at + ENTRY.offset);
      record.length = bytes.readUInt32LE(at + ENTRY.length);
      record.rawLength = bytes.readUInt32LE(at + ENTRY.rawLength);
      blobBytes += record.length;
      const idAt = at + ENTRY.id;
      if (record.offset <= MAX_COMPACT_OFFSET) {
        if (this.overflow.size === 0 || !this.overflow.has(this.overflowKey(hexId(bytes, idAt)))) this.table.insert(bytes, idAt, record);
      } else if (!this.table.has(bytes, idAt)) {
        const id = hexId(bytes, idAt);
        const key = this.overflowKey(id);
        if (!this.overflow.has(key)) this.overflow.set(key, locationOf(record, id, this.packTable.idOf(packNumber)));
      }
    }
    this.packTable.setSize(packNumber, packSizeFor(scanned.count, blobBytes));
    return true;
  }

  has(id: Id): boolean {
    this.scratch.write(id, 'hex');
    return this.table.has(this.scratch, 0) || (this.overflow.size > 0 && this.overflow.has(this.overflowKey(id)));
  }

  lookup(id: Id): BlobLocation | undefined {
    this.scratch.write(id, 'hex');
    if (this.table.get(this.scratch, 0, this.record)) return locationOf(this.record, id, this.packTable.idOf(this.record.packNumber));
    const found = this.overflow.size > 0 ? this.overflow.get(this.overflowKey(id)) : undefined;
    return found && { ...found, id };
  }

  /** The blob's location when it is stored as `type`, else undefined. */
  find(type: BlobType, id: Id): BlobLocation | undefined {
    const found = this.lookup(id);
    return found?.type === type ? found : undefined;
  }

  hasPack(packId: Id): boolean {
    return this.packTable.numberOfId(packId) >= 0;
  }

  /** Expected pack sizes (blobs plus sealed header and trailer) by pack id, in the order packs were added. */
  packs(): ReadonlyMap<Id, number> {
    return this.packView;
  }

  get blobCount(): number {
    return this.table.size + this.overflow.size;
  }

  /** Bytes held by the index's arrays (not counting the rare entries kept beside them). */
  get byteLength(): number {
    return this.table.byteLength + this.packTable.byteLength;
  }

  /** The overflow map's key: the id, or in a compact index what the table compares of it. */
  private overflowKey(id: Id): string {
    return this.table.fullIds ? id : compactKey(id);
  }

  /**
   * Every blob's location. Only an index made with `fullIds` knows whole blob ids; a compact one throws
   * (a programming error: load the index with {@link Repository.loadIndex}, which keeps them).
   */
  *entries(): IterableIterator<BlobLocation> {
    for (const [id, record] of this.table.entries()) {
      yield locationOf(record, hexId(id, 0), this.packTable.idOf(record.packNumber));
    }
    yield* this.overflow.values();
  }
}

const hexId = (bytes: Uint8Array, at: number): Id => Buffer.from(bytes.buffer, bytes.byteOffset + at, ID_BYTES).toString('hex') as Id;

/** The part of an id a compact {@link BlobTable} compares: bytes 0–11 and the shard bits. */
function compactKey(id: Id): string {
  return `${id.slice(0, 24)}:${shardOf(Buffer.from(id, 'hex'), 0)}`;
}

/**
 * One literal, so every location shares one hidden class: spreading a location and adding `packId` made
 * V8 create a map and descriptor array per lookup, in the old generation (~6,000 in a scale-0.2 restore).
 */
function locationOf(record: BlobRecord, id: Id, packId: Id): BlobLocation {
  return {
    type: record.type === 1 ? 'tree' : 'data',
    id,
    compression: record.compression as PackedBlob['compression'],
    offset: record.offset,
    length: record.length,
    rawLength: record.rawLength,
    packId,
  };
}

/** {@link MasterIndex.packs} without a map: a read-only view over the pack table. */
class PackSizes implements ReadonlyMap<Id, number> {
  constructor(private readonly current: () => PackTable) {}

  private get table(): PackTable {
    return this.current();
  }

  get size(): number {
    return this.table.size;
  }

  get(id: Id): number | undefined {
    const number = this.table.numberOfId(id);
    return number < 0 ? undefined : this.table.sizeOf(number);
  }

  has(id: Id): boolean {
    return this.table.numberOfId(id) >= 0;
  }

  forEach(callback: (value: number, key: Id, map: ReadonlyMap<Id, number>) => void, thisArg?: unknown): void {
    for (const [id, size] of this) callback.call(thisArg, size, id, this);
  }

  *entries(): MapIterator<[Id, number]> {
    for (let n = 0; n < this.table.size; n++) yield [this.table.idOf(n), this.table.sizeOf(n)];
  }

  *keys(): MapIterator<Id> {
    for (let n = 0; n < this.table.size; n++) yield this.table.idOf(n);
  }

  *values(): MapIterator<number> {
    for (let n = 0; n < this.table.size; n++) yield this.table.sizeOf(n);
  }

  [Symbol.iterator](): MapIterator<[Id, number]> {
    return this.entries();
  }
}
