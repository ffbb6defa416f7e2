import type { Id } from '../../core/ids.js';
import { allocateAligned } from '../../os/direct-write.js';
import { sha256Id } from '../crypto/sha256.js';
import type { EncodedBlob, SealedBlobInfo, SealedBlobSink } from './blob-codec.js';
import { sealPackHeader, type BlobType, type PackedBlob } from './pack-format.js';

/** A complete pack: its bytes, its name (SHA-256 of the bytes) and the blobs it holds. */
export interface FinishedPack {
  readonly id: Id;
  /** A view of a buffer the pack owns alone (never Node's shared pool), so it can be transferred. */
  readonly bytes: Buffer;
  readonly blobs: PackedBlob[];
}

interface OpenPack {
  readonly type: BlobType;
  buffer: Buffer;
  blobs: PackedBlob[];
  size: number;
}

/** Room for the sealed header and the larger blobs that end a pack, so most packs never grow. */
export const SLACK = 1024 * 1024;
/** A pack's header grows by one entry per blob (see pack-format), sealed: this bounds it. */
export const HEADER_BYTES_PER_BLOB = 64;
export const HEADER_BYTES = 256;

/**
 * Assembles sealed blobs into packs of about `packSize` bytes, data and tree blobs apart (so reading
 * trees never drags file content along). Blobs are copied once into a buffer the pack owns; the
 * finished bytes are a view of it. Pure and synchronous: it runs in encoder workers as well as on the
 * main thread.
 */
export class PackBuilder implements SealedBlobSink<FinishedPack | undefined> {
  private readonly open = new Map<BlobType, OpenPack>();

  /**
   * `allocate` gives the buffer of a new pack of `type` (at least `bytes` long, owning its ArrayBuffer
   * alone), or with `grows` a larger one for an open pack (its bytes are then copied over and the old
   * buffer dropped); by default a new one starting on a block boundary (FsStorage then writes it past the
   * page cache). (Encoder workers build only tree packs here; their data packs are written as they fill,
   * see PackStream, which keeps this class's end rule.)
   */
  constructor(
    private readonly encryptionKey: Uint8Array,
    private readonly packSize: number,
    private readonly allocate: (bytes: number, type: BlobType, grows: boolean) => Buffer = allocateAligned,
  ) {}

  /** Appends a blob sealed by `seal` straight into the pack's buffer; returns the pack it completed, if any. */
  addSealed(blob: SealedBlobInfo, seal: (target: Buffer, offset: number) => number): FinishedPack | undefined {
    const early = this.finishEarly(blob.type, blob.length);
    const pack = this.openPack(blob.type);
    this.ensureRoom(pack, blob.length);
    const written = seal(pack.buffer, pack.size);
    if (written !== blob.length) throw new Error(`sealed ${written} bytes, expected ${blob.length}`);
    const { type, id, compression, rawLength } = blob;
    pack.blobs.push({ type, id, compression, rawLength, length: written, offset: pack.size });
    pack.size += written;
    return early ?? this.completed(pack);
  }

  /** Appends a blob; returns the pack it completed, if any. */
  add(blob: EncodedBlob): FinishedPack | undefined {
    const early = this.finishEarly(blob.type, blob.sealed.length);
    const pack = this.openPack(blob.type);
    const { type, id, compression, rawLength } = blob;
    this.ensureRoom(pack, blob.sealed.length);
    blob.sealed.copy(pack.buffer, pack.size);
    pack.blobs.push({ type, id, compression, rawLength, length: blob.sealed.length, offset: pack.size });
    pack.size += blob.sealed.length;
    return early ?? this.completed(pack);
  }

  /**
   * Finishes the open pack before a blob that would overflow its buffer (and make it grow: a larger
   * buffer faulted in, the pack copied, its old buffer dropped), when the blob cannot complete the next
   * pack on its own: then each call still completes at most one pack. The pack ends a little short of
   * `packSize`, as the last pack of a backup does; nothing reads a pack's size as a promise.
   */
  private finishEarly(type: BlobType, bytes: number): FinishedPack | undefined {
    const pack = this.open.get(type);
    if (!pack || !this.endsBefore(pack, bytes)) return undefined;
    this.open.delete(type);
    return this.finish(pack);
  }

  private endsBefore(pack: OpenPack, bytes: number): boolean {
    if (pack.size === 0 || bytes >= this.packSize) return false;
    if (pack.size + bytes + HEADER_BYTES + HEADER_BYTES_PER_BLOB * (pack.blobs.length + 1) <= pack.buffer.length) return false;
    // Tree packs start small and grow instead, until they have a data pack's room.
    return pack.buffer.length >= this.packSize;
  }

  /**
   * Whether appending a blob of at most `bytes` sealed bytes starts a new pack of its type (and so takes
   * a buffer from `allocate`): none is open, or the open one ends before the blob. A buffer grown for a
   * blob larger than a pack is not counted.
   */
  startsPack(type: BlobType, bytes: number): boolean {
    const pack = this.open.get(type);
    return !pack || this.endsBefore(pack, bytes);
  }

  private openPack(type: BlobType): OpenPack {
    let pack = this.open.get(type);
    if (!pack) {
      pack = { type, buffer: this.allocate(type === 'tree' ? 256 * 1024 : this.packSize + SLACK, type, false), blobs: [], size: 0 };
      this.open.set(type, pack);
    }
    return pack;
  }

  private completed(pack: OpenPack): FinishedPack | undefined {
    if (pack.size < this.packSize) return undefined;
    this.open.delete(pack.type);
    return this.finish(pack);
  }

  /** Completes the partly filled pack of `type`, if one is open. */
  finishOpen(type: BlobType): FinishedPack | undefined {
    const pack = this.open.get(type);
    if (!pack) return undefined;
    this.open.delete(type);
    return this.finish(pack);
  }

  /** Completes every partly filled pack. */
  finishAll(): FinishedPack[] {
    const packs = [...this.open.values()].map((pack) => this.finish(pack));
    this.open.clear();
    return packs;
  }

  private finish(pack: OpenPack): FinishedPack {
    const header = sealPackHeader(this.encryptionKey, pack.blobs);
    this.ensureRoom(pack, header.length);
    header.copy(pack.buffer, pack.size);
    const bytes = pack.buffer.subarray(0, pack.size + header.length);
    return { id: sha256Id(bytes), bytes, blobs: pack.blobs };
  }

  private ensureRoom(pack: OpenPack, bytes: number): void {
    if (pack.size + bytes <= pack.buffer.length) return;
    const larger = this.allocate(Math.max(2 * pack.buffer.length, pack.size + bytes + SLACK), pack.type, true);
    pack.buffer.copy(larger, 0, 0, pack.size);
    pack.buffer = larger;
  }
}
