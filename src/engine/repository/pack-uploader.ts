import type { Id } from '../../core/ids.js';
import type { Storage } from '../../storage/storage.js';
import { objectKey } from '../../storage/layout.js';
import { sha256Id } from '../crypto/sha256.js';
import type { IndexedPack } from '../index/index-format.js';
import type { MasterIndex } from '../index/master-index.js';
import type { EncodedBlob } from '../pack/blob-codec.js';
import { sealPackHeader, type BlobType, type PackedBlob } from '../pack/pack-format.js';

/** Receives each pack once it is durable, with its blobs. */
export type PackSavedListener = (pack: IndexedPack, bytes: number) => void;

interface OpenPack {
  parts: Buffer[];
  blobs: PackedBlob[];
  size: number;
}

const MAX_UPLOADS_IN_FLIGHT = 2;

/**
 * Gathers encoded blobs into packs (data and tree blobs apart) of about `packSize` bytes and saves
 * each finished pack under the SHA-256 of its bytes, at most two at a time. It deduplicates against
 * the index and against blobs not yet saved. Blobs enter the index only once their pack is durable.
 * Not safe for concurrent `add` calls of the same blob from several callers without awaiting.
 */
export class PackUploader {
  private readonly open = new Map<BlobType, OpenPack>();
  private readonly pending = new Set<Id>();
  private readonly uploads = new Set<Promise<void>>();
  private failure: Error | undefined;

  constructor(
    private readonly storage: Storage,
    private readonly encryptionKey: Uint8Array,
    private readonly index: MasterIndex,
    private readonly packSize: number,
    private readonly onPackSaved: PackSavedListener,
  ) {}

  /** True when the blob is stored or on its way. */
  knows(id: Id): boolean {
    return this.pending.has(id) || this.index.has(id);
  }

  /** Marks the id as on its way before it is encoded, so concurrent producers do not encode it twice. */
  reserve(id: Id): boolean {
    if (this.knows(id)) return false;
    this.pending.add(id);
    return true;
  }

  /** Appends a blob reserved with {@link reserve}; waits when too many packs are being saved. */
  async add(blob: EncodedBlob): Promise<void> {
    this.throwIfFailed();
    let pack = this.open.get(blob.type);
    if (!pack) {
      pack = { parts: [], blobs: [], size: 0 };
      this.open.set(blob.type, pack);
    }
    pack.blobs.push({ type: blob.type, id: blob.id, compression: blob.compression, length: blob.sealed.length, rawLength: blob.rawLength, offset: pack.size });
    pack.parts.push(blob.sealed);
    pack.size += blob.sealed.length;
    if (pack.size >= this.packSize) {
      this.open.delete(blob.type);
      await this.startUpload(pack);
    }
  }

  /** Saves the partly filled packs and waits for every save; rethrows the first failure. */
  async flush(): Promise<void> {
    for (const [type, pack] of this.open) {
      this.open.delete(type);
      await this.startUpload(pack);
    }
    await Promise.all(this.uploads);
    this.throwIfFailed();
  }

  private async startUpload(pack: OpenPack): Promise<void> {
    while (this.uploads.size >= MAX_UPLOADS_IN_FLIGHT) await Promise.race(this.uploads);
    this.throwIfFailed();
    const upload = this.upload(pack).catch((err: unknown) => {
      this.failure ??= err instanceof Error ? err : new Error(String(err));
    });
    this.uploads.add(upload);
    void upload.finally(() => this.uploads.delete(upload));
  }

  private async upload(pack: OpenPack): Promise<void> {
    pack.parts.push(sealPackHeader(this.encryptionKey, pack.blobs));
    const bytes = Buffer.concat(pack.parts);
    pack.parts.length = 0;
    const id = sha256Id(bytes);
    await this.storage.save(objectKey('pack', id), bytes, { length: bytes.length });
    this.index.addPack(id, pack.blobs);
    for (const blob of pack.blobs) this.pending.delete(blob.id);
    this.onPackSaved({ id, blobs: pack.blobs }, bytes.length);
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
