import type { Id } from '../../core/ids.js';
import { sha256Id } from '../crypto/sha256.js';
import type { EncodedBlob } from './blob-codec.js';
import { sealPackHeader, type BlobType, type PackedBlob } from './pack-format.js';

/** A complete pack: its bytes, its name (SHA-256 of the bytes) and the blobs it holds. */
export interface FinishedPack {
  readonly id: Id;
  readonly bytes: Buffer;
  readonly blobs: PackedBlob[];
}

interface OpenPack {
  parts: Buffer[];
  blobs: PackedBlob[];
  size: number;
}

/**
 * Assembles sealed blobs into packs of about `packSize` bytes, data and tree blobs apart (so reading
 * trees never drags file content along). Pure and synchronous: it runs in encoder workers as well as
 * on the main thread.
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
      pack = { parts: [], blobs: [], size: 0 };
      this.open.set(blob.type, pack);
    }
    const { type, id, compression, rawLength } = blob;
    pack.blobs.push({ type, id, compression, rawLength, length: blob.sealed.length, offset: pack.size });
    pack.parts.push(blob.sealed);
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
    pack.parts.push(sealPackHeader(this.encryptionKey, pack.blobs));
    const bytes = Buffer.concat(pack.parts);
    return { id: sha256Id(bytes), bytes, blobs: pack.blobs };
  }
}
