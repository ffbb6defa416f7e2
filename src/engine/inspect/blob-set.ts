import type { Id } from '../../core/ids.js';
import type { BlobType } from '../pack/pack-format.js';

export interface BlobHandle {
  readonly type: BlobType;
  readonly id: Id;
}

/** A set of blobs by type and id (a data blob and a tree may share an id). */
export class BlobSet {
  private readonly blobs = new Map<string, BlobHandle>();

  add(type: BlobType, id: Id): void {
    this.blobs.set(key(type, id), { type, id });
  }

  has(type: BlobType, id: Id): boolean {
    return this.blobs.has(key(type, id));
  }

  get size(): number {
    return this.blobs.size;
  }

  values(): IterableIterator<BlobHandle> {
    return this.blobs.values();
  }
}

function key(type: BlobType, id: Id): string {
  return `${type === 'tree' ? 't' : 'd'}${id}`;
}
