import { IntegrityError, NotFoundError } from '../../core/errors.js';
import { shortId, type Id } from '../../core/ids.js';
import type { Storage } from '../../storage/storage.js';
import { objectKey } from '../../storage/layout.js';
import type { MasterIndex, BlobLocation } from '../index/master-index.js';
import { BlobCodec } from '../pack/blob-codec.js';
import type { BlobType } from '../pack/pack-format.js';

/** A blob could not be read: it is not indexed, its pack is missing, or its bytes are damaged. */
export class BlobUnavailableError extends IntegrityError {
  constructor(
    message: string,
    readonly blobId: Id,
    readonly packId: Id | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Reads and decodes blobs through the index, each with one ranged read of its pack. (Reading and
 * caching whole packs was slower and took more memory: packs of concurrent files and encoder workers
 * interleave, so a small cache thrashes; measured in docs/PERFORMANCE.md.) Never returns bytes that
 * fail authentication: a damaged or missing blob is a `BlobUnavailableError` naming blob and pack.
 * Restores read sealed runs with {@link readSealedInto} and decode on their file-writer threads.
 */
export class BlobReader {
  private readonly codec: BlobCodec;

  constructor(
    private readonly storage: Storage,
    private readonly index: MasterIndex,
    encryptionKey: Uint8Array,
  ) {
    this.codec = new BlobCodec(encryptionKey);
  }

  async load(type: BlobType, id: Id): Promise<Buffer> {
    const location = this.index.find(type, id);
    if (!location) throw new BlobUnavailableError(`${type} blob ${shortId(id)} is not in the index`, id, undefined);
    let sealed: Buffer;
    try {
      sealed = await this.readSealed(location);
    } catch (err) {
      const what = err instanceof NotFoundError ? 'is missing' : 'cannot be read';
      throw new BlobUnavailableError(`pack ${shortId(location.packId)} ${what} (${type} blob ${shortId(id)})`, id, location.packId, { cause: err });
    }
    try {
      return this.codec.decode(type, id, sealed, location.compression, location.rawLength);
    } catch (err) {
      throw new BlobUnavailableError(`${type} blob ${shortId(id)} in pack ${shortId(location.packId)} is damaged`, id, location.packId, { cause: err });
    }
  }

  /** Where a blob is stored, or undefined when no index lists it. */
  find(type: BlobType, id: Id): BlobLocation | undefined {
    return this.index.find(type, id);
  }

  /** Where a blob is stored; `BlobUnavailableError` (not indexed) when no index lists it. */
  locate(type: BlobType, id: Id): BlobLocation {
    const location = this.index.find(type, id);
    if (!location) throw new BlobUnavailableError(`${type} blob ${shortId(id)} is not in the index`, id, undefined);
    return location;
  }

  /**
   * Reads `length` sealed bytes of pack `packId` from `offset` into the start of `target` (blobs that
   * lie next to each other in one pack come in one read). Nothing is decoded or authenticated here: the
   * caller decodes each blob (see BlobCodec.decodeInto). A missing or unreadable pack is a
   * `BlobUnavailableError` naming `firstBlob`, the run's first blob.
   */
  async readSealedInto(packId: Id, offset: number, length: number, target: Buffer, firstBlob: { type: BlobType; id: Id }): Promise<void> {
    const key = objectKey('pack', packId);
    try {
      if (this.storage.loadInto) await this.storage.loadInto(key, { offset, length }, target);
      else target.set(await this.storage.load(key, { offset, length }));
    } catch (err) {
      const what = err instanceof NotFoundError ? 'is missing' : 'cannot be read';
      throw new BlobUnavailableError(`pack ${shortId(packId)} ${what} (${firstBlob.type} blob ${shortId(firstBlob.id)})`, firstBlob.id, packId, { cause: err });
    }
  }

  private readSealed(location: BlobLocation): Promise<Buffer> {
    return this.storage.load(objectKey('pack', location.packId), { offset: location.offset, length: location.length });
  }
}
