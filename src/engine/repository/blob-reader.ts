import { IntegrityError, NotFoundError, withContext } from '../../core/errors.js';
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

const CACHED_PACKS = 4;
/** Packs up to this size are read whole and cached: restores read blobs in roughly pack order. */
const WHOLE_PACK_LIMIT = 64 * 1024 * 1024;

/**
 * Reads and decodes blobs through the index. Keeps the last few whole packs in memory so reading the
 * blobs of a pack one after another costs one storage read. Never returns bytes that fail
 * authentication: a damaged or missing blob is a `BlobUnavailableError` naming blob and pack.
 */
export class BlobReader {
  private readonly codec: BlobCodec;
  private readonly packs = new Map<Id, Promise<Buffer>>();

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

  private async readSealed(location: BlobLocation): Promise<Buffer> {
    const key = objectKey('pack', location.packId);
    const packSize = this.index.packs().get(location.packId) ?? Infinity;
    if (packSize > WHOLE_PACK_LIMIT) return this.storage.load(key, { offset: location.offset, length: location.length });
    let pack = this.packs.get(location.packId);
    if (pack) {
      this.packs.delete(location.packId);
    } else {
      pack = this.storage.load(key).catch((err: unknown) => {
        this.packs.delete(location.packId);
        throw withContext(`reading pack ${location.packId}`, err);
      });
      if (this.packs.size >= CACHED_PACKS) this.packs.delete(this.packs.keys().next().value as Id);
    }
    this.packs.set(location.packId, pack);
    const bytes = await pack;
    if (location.offset + location.length > bytes.length) throw new IntegrityError('pack is shorter than its index says');
    return bytes.subarray(location.offset, location.offset + location.length);
  }
}
