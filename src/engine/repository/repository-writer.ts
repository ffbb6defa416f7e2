import type { Failpoints } from '../../core/failpoints.js';
import type { Id } from '../../core/ids.js';
import type { Storage } from '../../storage/storage.js';
import { objectKey } from '../../storage/layout.js';
import { BlobCompressor } from '../compress/zstd.js';
import { SEAL_OVERHEAD } from '../crypto/aead.js';
import { ContentHasher } from '../crypto/content-id.js';
import { sha256Id } from '../crypto/sha256.js';
import { sealIndex } from '../index/index-file.js';
import type { IndexedPack } from '../index/index-format.js';
import type { MasterIndex } from '../index/master-index.js';
import { BlobCodec } from '../pack/blob-codec.js';
import type { BlobType } from '../pack/pack-format.js';
import { EncoderPool, type EncoderPoolOptions } from './encoder-pool.js';
import { PackUploader } from './pack-uploader.js';

/** Counters of what a writer added, for the backup summary. */
export interface WriterStats {
  dataBlobs: number;
  treeBlobs: number;
  /** Plaintext bytes of new blobs. */
  dataAdded: number;
  /** Bytes of new packs and index files. */
  dataAddedPacked: number;
}

export interface SavedBlob {
  readonly id: Id;
  /** False when the repository already had the blob. */
  readonly added: boolean;
}

/**
 * Blobs are encoded on the calling thread until this many plaintext bytes were stored; the encoder
 * workers start only beyond it. A backup that stores a few new trees (a no-change backup whose
 * enclosing directories changed) then never pays for starting worker isolates (~0.2 CPU-s each).
 */
const INLINE_BYTES_BEFORE_WORKERS = 4 * 1024 * 1024;

/**
 * The pack size of the blobs encoded on the calling thread when encoder workers pack the rest: those packs
 * hold at most {@link INLINE_BYTES_BEFORE_WORKERS} of plaintext, so a buffer for a whole pack (~17 MiB,
 * garbage once the workers start, until a full collection) would be mostly untouched room.
 */
const INLINE_PACK_SIZE = INLINE_BYTES_BEFORE_WORKERS;

/** Packs are listed in index files of at most this many packs, so a crash loses little index work. */
const PACKS_PER_INDEX_FILE = 64;

export interface WriterKeys {
  readonly encryptionKey: Uint8Array;
  readonly contentIdKey: Uint8Array;
}

/**
 * Adds blobs to a repository: hashes, deduplicates, compresses, seals and packs them, and writes index
 * files for the packs it saved. Write order: a pack is durable before an index file names it; callers
 * write the snapshot only after {@link flush}.
 */
export class RepositoryWriter {
  readonly stats: WriterStats = { dataBlobs: 0, treeBlobs: 0, dataAdded: 0, dataAddedPacked: 0 };
  private readonly hasher: ContentHasher;
  /** Encodes blobs on the calling thread until the encoder workers start; dropped then (its compression scratch buffer with it). */
  private codec: BlobCodec | undefined;
  private readonly indexCompressor = new BlobCompressor();
  private readonly uploader: PackUploader;
  private unindexed: IndexedPack[] = [];
  private indexWrites: Promise<void>[] = [];
  private failure: Error | undefined;
  /** Started once more than {@link INLINE_BYTES_BEFORE_WORKERS} are stored: a backup storing little starts no worker. */
  private pool: EncoderPool | undefined;
  private inlineBytes = 0;
  /** Tree packs finished by workers are saved one after another through this chain (data packs are streamed). */
  private packSaves: Promise<void> = Promise.resolve();
  private packsWaiting = 0;

  constructor(
    private readonly storage: Storage,
    private readonly keys: WriterKeys,
    index: MasterIndex,
    private readonly packSize: number,
    private readonly compressionLevel: number,
    private readonly failpoints: Failpoints,
    private readonly workers = 0,
    private readonly guard?: () => void,
    private readonly poolOptions: EncoderPoolOptions = {},
  ) {
    this.hasher = new ContentHasher(keys.contentIdKey);
    // Packs encoded here before the workers take over hold a few MiB.
    const inlinePackSize = workers > 0 ? Math.min(packSize, INLINE_PACK_SIZE) : packSize;
    this.uploader = new PackUploader(storage, keys.encryptionKey, index, inlinePackSize, (pack, bytes) => {
      failpoints.hit('pack-saved');
      this.stats.dataAddedPacked += bytes;
      this.unindexed.push(pack);
      if (this.unindexed.length >= PACKS_PER_INDEX_FILE) this.startIndexWrite();
    });
  }

  /** How many encoder workers run: none before a few MiB are stored, then one, more as they fall behind. */
  get workerCount(): number {
    return this.pool?.workerCount ?? 0;
  }

  /** True when the repository has the blob or this writer is about to store it. */
  knows(id: Id): boolean {
    return this.uploader.knows(id);
  }

  /** Stores the blob unless the repository has it already. */
  async save(type: BlobType, plaintext: Uint8Array): Promise<SavedBlob> {
    const id = this.hasher.idOf(type, plaintext);
    if (!this.reserve(type, id, plaintext.length)) return { id, added: false };
    if (this.pool === undefined && this.workersDue(plaintext.length)) {
      this.pool = this.startPool();
      this.codec = undefined;
      // From now on the workers pack every blob: the packs begun here would otherwise hold their buffers until flush.
      await this.uploader.finishOpenPacks();
    }
    // A blob that would start a pack while two are being saved waits (the workers bound their own packs).
    for (let wait = this.roomFor(type, plaintext.length); wait; wait = this.roomFor(type, plaintext.length)) await wait;
    if (this.pool) {
      // Finished packs waiting to be saved hold memory: let the saves catch up first.
      while (this.packsWaiting > 2) await this.packSaves;
      await this.pool.encode(type, id, plaintext);
    } else {
      this.inlineBytes += plaintext.length;
      // Sealed straight into the open pack's buffer, with no await since roomFor (the pack it goes into is the
      // one roomFor saw) nor in encodeInto (the codec compresses into a scratch buffer it reuses).
      this.codec ??= new BlobCodec(this.keys.encryptionKey, this.compressionLevel);
      await this.codec.encodeInto(this.uploader, type, id, plaintext);
    }
    return { id, added: true };
  }

  /** See PackUploader.roomFor; undefined once the workers pack (they bound their own packs). */
  private roomFor(type: BlobType, length: number): Promise<unknown> | undefined {
    return this.pool ? undefined : this.uploader.roomFor(type, length + SEAL_OVERHEAD);
  }

  /** Whether the encoder workers start before a new blob of `bytes`: beyond {@link INLINE_BYTES_BEFORE_WORKERS}. */
  private workersDue(bytes: number): boolean {
    return this.workers > 0 && this.inlineBytes + bytes > INLINE_BYTES_BEFORE_WORKERS;
  }

  /**
   * {@link save} without waiting for the blob's id: resolves once `plaintext` may be reused, with a
   * promise of the result. With encoder workers the blob is hashed there (the main thread only copies
   * it into a worker's ring); a caller saving many blobs in a row keeps the workers busy meanwhile.
   * Nothing is durable before {@link flush}, as with save.
   */
  async put(type: BlobType, plaintext: Uint8Array): Promise<{ readonly saved: Promise<SavedBlob> }> {
    // With the rings full (the workers are behind), the main thread hashes the blob itself rather than wait:
    // a known blob (most of what an incremental backup reads) then costs the workers nothing.
    if (!this.pool?.hasRoom(plaintext.length)) return { saved: Promise.resolve(await this.save(type, plaintext)) };
    // Finished packs waiting to be saved hold memory: let the saves catch up first.
    while (this.packsWaiting > 2) await this.packSaves;
    const { hashed } = await this.pool.submit(type, plaintext);
    return { saved: hashed };
  }

  /** Marks a blob as on its way and counts it, unless it is known; false when known. */
  private reserve(type: BlobType, id: Id, length: number): boolean {
    if (!this.uploader.reserve(id)) return false;
    if (type === 'tree') this.stats.treeBlobs++;
    else this.stats.dataBlobs++;
    this.stats.dataAdded += length;
    return true;
  }

  /** Saves every open pack and the index files naming them. After it resolves, all blobs are durable and indexed. */
  async flush(): Promise<void> {
    if (this.pool) {
      await this.pool.flush();
      await this.packSaves;
      if (this.failure) throw this.failure;
      await this.uploader.drainStreams();
    }
    await this.uploader.flush();
    this.startIndexWrite();
    const writes = this.indexWrites;
    this.indexWrites = [];
    await Promise.all(writes);
    if (this.failure) throw this.failure;
  }

  /** Stops the encoder workers; call once done with the writer (after {@link flush}, or on failure). */
  async close(): Promise<void> {
    await this.pool?.close();
  }

  private startPool(): EncoderPool {
    const { encryptionKey, contentIdKey } = this.keys;
    const setup = { encryptionKey, contentIdKey, compressionLevel: this.compressionLevel, packSize: this.packSize };
    // Each worker's data packs are written as they fill (PackUploader.openStream); tree packs come whole.
    const pool: EncoderPool = new EncoderPool(this.workers, setup, (pack, settle) => {
      this.packsWaiting++;
      const failed = (err: unknown): void => {
        settle(false);
        pool.abort(err instanceof Error ? err : new Error(String(err)));
      };
      // The chain never rejects: nothing may be awaiting it when a save fails (the process would end on an
      // unhandled rejection, a stack trace instead of the one-line error). The failure aborts the pool, so
      // the next blob fails, and flush rethrows it.
      this.packSaves = this.packSaves
        .then(() => this.uploader.save(pack, () => settle(true), failed))
        .catch((err: unknown) => {
          failed(err);
          this.failure ??= err instanceof Error ? err : new Error(String(err));
        })
        .finally(() => this.packsWaiting--);
    }, () => this.uploader.openStream((err) => pool.abort(err)), (type, id, length) => this.reserve(type, id, length), this.poolOptions);
    return pool;
  }


  /** Starts writing an index file for the packs saved so far; a failure surfaces in {@link flush}. */
  private startIndexWrite(): void {
    this.indexWrites.push(
      this.writeIndex().catch((err: unknown) => {
        this.failure ??= err instanceof Error ? err : new Error(String(err));
      }),
    );
  }

  private async writeIndex(): Promise<void> {
    if (this.unindexed.length === 0) return;
    this.guard?.();
    const packs = this.unindexed;
    this.unindexed = [];
    const bytes = sealIndex(this.keys.encryptionKey, { packs, supersedes: [] }, this.indexCompressor);
    await this.storage.save(objectKey('index', sha256Id(bytes)), bytes, { length: bytes.length });
    this.failpoints.hit('index-saved');
    this.stats.dataAddedPacked += bytes.length;
  }
}
