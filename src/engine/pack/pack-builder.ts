import type { Id } from '../../core/ids.js';
import { sha256Id } from '../crypto/sha256.js';
import type { EncodedBlob } from './blob-codec.js';
import { sealPackHeader, type BlobType, type PackedBlob } from './pack-format.js';

/** A complete pack: its bytes, its name (SHA-256 of the bytes) and the blobs it holds. */
export interface FinishedPack {
  readonly id: Id;
  /** A view of a buffer the pack owns alone (never Node's shared pool), so it can be transferred. */
  readonly bytes: Buffer;
  readonly blobs: PackedBlob[];
}

interface OpenPack {
  buffer: Buffer;
  blobs: PackedBlob[];
  size: number;
}

/** Room for the sealed header and the larger blobs that end a pack, so most packs never grow. */
const SLACK = 1024 * 1024;

/**
 * Assembles sealed blobs into packs of about `packSize` bytes, data and tree blobs apart (so reading
 * trees never drags file content along). Blobs are copied once into a buffer the pack owns; the
 * finished bytes are a view of it. Pure and synchronous: it runs in encoder workers as well as on the
 * main thread.
 */
export class PackBuilder {
  private readonly open = new Map<BlobType, OpenPack>();

  constructor(
    private readonly encryptionKey: Uint8Array,
    private readonly packSize: number,
  ) {}

  /** Appends a blob; returns the pack it completed, if any. */
  add(blob: EncodedBlob): FinishedPack | undefined {
    let pack = this.open.get(blob.type);
    if (!pack) {
      pack = { buffer: Buffer.allocUnsafeSlow(blob.type === 'tree' ? 256 * 1024 : this.packSize + SLACK), blobs: [], size: 0 };
      this.open.set(blob.type, pack);
    }
    const { type, id, compression, rawLength } = blob;
    ensureRoom(pack, blob.sealed.length);
    blob.sealed.copy(pack.buffer, pack.size);
    pack.blobs.push({ type, id, compression, rawLength, length: blob.sealed.length, offset: pack.size });
    pack.size += blob.sealed.length;
    if (pack.size < this.packSize) return undefined;
    this.open.delete(blob.type);
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
    ensureRoom(pack, header.length);
    header.copy(pack.buffer, pack.size);
    const bytes = pack.buffer.subarray(0, pack.size + header.length);
    return { id: sha256Id(bytes), bytes, blobs: pack.blobs };
  }
}

function ensureRoom(pack: OpenPack, bytes: number): void {
  if (pack.size + bytes <= pack.buffer.length) return;
  const larger = Buffer.allocUnsafeSlow(Math.max(2 * pack.buffer.length, pack.size + bytes + SLACK));
  pack.buffer.copy(larger, 0, 0, pack.size);
  pack.buffer = larger;
}
