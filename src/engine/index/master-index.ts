import type { Id } from '../../core/ids.js';
import { packSizeOf, type BlobType, type PackedBlob } from '../pack/pack-format.js';

/** Where a blob is stored. */
export interface BlobLocation extends PackedBlob {
  readonly packId: Id;
}

/**
 * The in-memory union of all index files: blob id → location, plus the set of indexed packs.
 * When a blob is stored in several packs (after a crash or concurrent backups), the first one wins.
 */
export class MasterIndex {
  private readonly blobs = new Map<Id, BlobLocation>();
  private readonly packSizes = new Map<Id, number>();

  addPack(packId: Id, blobs: readonly PackedBlob[]): void {
    for (const blob of blobs) {
      if (!this.blobs.has(blob.id)) this.blobs.set(blob.id, { ...blob, packId });
    }
    this.packSizes.set(packId, packSizeOf(blobs));
  }

  has(id: Id): boolean {
    return this.blobs.has(id);
  }

  lookup(id: Id): BlobLocation | undefined {
    return this.blobs.get(id);
  }

  /** The blob's location when it is stored as `type`, else undefined. */
  find(type: BlobType, id: Id): BlobLocation | undefined {
    const found = this.blobs.get(id);
    return found?.type === type ? found : undefined;
  }

  hasPack(packId: Id): boolean {
    return this.packSizes.has(packId);
  }

  /** Expected pack sizes (blobs plus sealed header and trailer) by pack id. */
  packs(): ReadonlyMap<Id, number> {
    return this.packSizes;
  }

  get blobCount(): number {
    return this.blobs.size;
  }

  *entries(): IterableIterator<BlobLocation> {
    yield* this.blobs.values();
  }
}
