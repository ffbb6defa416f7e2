import type { Id } from '../../core/ids.js';
import type { ObjectWriter, Storage } from '../../storage/storage.js';
import { objectKey } from '../../storage/layout.js';
import { DIRECT_ALIGN, alignedView, allocateAligned } from '../../os/direct-write.js';
import type { IndexedPack } from '../index/index-format.js';
import type { MasterIndex } from '../index/master-index.js';
import type { EncodedBlob, SealedBlobInfo, SealedBlobSink } from '../pack/blob-codec.js';
import { PackBuilder, type FinishedPack } from '../pack/pack-builder.js';
import type { BlobType, PackedBlob } from '../pack/pack-format.js';

/** Receives each pack once it is durable, with its blobs. */
export type PackSavedListener = (pack: IndexedPack, bytes: number) => void;

const MAX_UPLOADS_IN_FLIGHT = 2;
/**
 * Streamed packs being committed at once (fsync and rename; an object store's upload of the gathered
 * bytes). A stream whose pack ends while this many commit waits before it appends more (its worker's
 * ring then fills and the worker stops): on object stores each holds a pack in memory.
 */
const MAX_COMMITS_IN_FLIGHT = 2;

/** A worker's data packs as they fill (see EncoderPool's DataPackSink): appends in order, then the pack's name. */
export interface PackStreamTarget {
  append(bytes: Uint8Array): Promise<void>;
  sealed(id: Id, blobs: PackedBlob[], length: number): void;
}

/**
 * Saves packs under the SHA-256 of their bytes, at most two at a time, and puts their blobs into the
 * index once durable. Blobs come either encoded ({@link add}, packed here) or already packed by an
 * encoder worker, whole ({@link save}) or as they fill ({@link openStream}: appended to an object of
 * Storage.begin, committed under the pack's name at its end). It deduplicates against the index and
 * against blobs on their way ({@link reserve}).
 */
export class PackUploader implements SealedBlobSink<Promise<void>> {
  private readonly builder: PackBuilder;
  private readonly pending = new Set<Id>();
  private readonly uploads = new Set<Promise<void>>();
  private failure: Error | undefined;
  /**
   * Buffers of the data packs {@link builder} started, and those of them saved since, for its next data
   * packs: with {@link roomFor}, two exist (one filling while one is saved, or two being saved), where a
   * buffer per pack would stay resident, garbage, until a full collection (~17 MiB each).
   */
  private readonly ownBuffers = new WeakSet<ArrayBufferLike>();
  private readonly spareBuffers: ArrayBufferLike[] = [];
  /** Streamed packs being committed, and every step of every stream (to wait for them all). */
  private readonly commits = new Set<Promise<void>>();
  private readonly streamSteps = new Set<Promise<void>>();
  /** Objects begun and neither committed nor aborted: aborted when anything fails. */
  private readonly begun = new Set<Promise<ObjectWriter>>();

  constructor(
    private readonly storage: Storage,
    encryptionKey: Uint8Array,
    private readonly index: MasterIndex,
    packSize: number,
    private readonly onPackSaved: PackSavedListener,
  ) {
    this.builder = new PackBuilder(encryptionKey, packSize, (bytes, type, grows) => this.allocate(bytes, type, grows));
  }

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
    const finished = this.builder.add(blob);
    if (finished) await this.save(finished);
  }

  /**
   * Undefined when a blob of at most `bytes` sealed bytes may be added now; else (it would start a new pack
   * of `type` while two saves are in flight) a promise to wait for before asking again. Callers adding
   * blobs at once would otherwise each fill a pack of their own while the saves catch up (a buffer each).
   * Ask right before encoding and adding, with no await in between: `while ((wait = roomFor(…))) await wait`.
   */
  roomFor(type: BlobType, bytes: number): Promise<unknown> | undefined {
    return this.uploads.size >= MAX_UPLOADS_IN_FLIGHT && this.builder.startsPack(type, bytes) ? Promise.race(this.uploads) : undefined;
  }

  /**
   * {@link add} for a blob sealed straight into the pack's buffer (BlobCodec.encodeInto, as the encoder
   * workers do): no buffer per blob. Waits as {@link add} does.
   */
  async addSealed(blob: SealedBlobInfo, seal: (target: Buffer, offset: number) => number): Promise<void> {
    this.throwIfFailed();
    const finished = this.builder.addSealed(blob, seal);
    if (finished) await this.save(finished);
  }

  /**
   * Starts saving a finished pack; waits while two saves are in flight. `onDurable` runs once the pack
   * is saved and indexed (its buffer may then be reused); `onFailed` instead when its save failed.
   */
  async save(pack: FinishedPack, onDurable?: () => void, onFailed?: (err: Error) => void): Promise<void> {
    while (this.uploads.size >= MAX_UPLOADS_IN_FLIGHT) await Promise.race(this.uploads);
    this.throwIfFailed();
    const upload = this.upload(pack, onDurable).catch((err: unknown) => {
      const failure = err instanceof Error ? err : new Error(String(err));
      this.failure ??= failure;
      onFailed?.(failure);
    });
    this.uploads.add(upload);
    void upload.finally(() => this.uploads.delete(upload));
  }

  /**
   * A stream of data packs written as they fill (one per encoder worker): each pack's ranges are appended
   * in order to an object begun in `data/`, committed at the pack's end under its name, then indexed as
   * {@link save} does. `onFailed` runs once when a step fails (the caller stops the workers); the failure
   * is also rethrown by the next {@link save}, {@link flush} and {@link drainStreams}.
   */
  openStream(onFailed: (err: Error) => void): PackStreamTarget {
    let writer: Promise<ObjectWriter> | undefined;
    let chain: Promise<void> = Promise.resolve();
    const fail = (err: unknown): Error => {
      const failure = err instanceof Error ? err : new Error(String(err));
      if (this.failure === undefined) {
        this.failure = failure;
        onFailed(failure);
        // Nothing half written stays: every object in progress is dropped (FsStorage removes its temp file).
        for (const begun of this.begun) void begun.then((w) => w.abort(), () => undefined);
      }
      return failure;
    };
    /** Runs `step` after the stream's previous steps; a failed step fails every later one. */
    const then = (step: () => Promise<void>): Promise<void> => {
      const next = chain.then(() => {
        this.throwIfFailed();
        return step();
      });
      chain = next.catch((err: unknown) => {
        throw fail(err);
      });
      const tracked = chain.catch(() => undefined);
      this.streamSteps.add(tracked);
      void tracked.finally(() => this.streamSteps.delete(tracked));
      return chain;
    };
    return {
      append: (bytes) => {
        if (this.failure !== undefined) return Promise.reject(this.failure);
        if (writer === undefined) {
          const begun = this.storage.begin('data');
          begun.catch(() => undefined);
          this.begun.add(begun);
          writer = begun;
        }
        const current = writer;
        return then(async () => (await current).append(bytes));
      },
      sealed: (id, blobs, length) => {
        const current = writer;
        writer = undefined;
        if (current === undefined) {
          // Appends refused after a failure begin nothing; otherwise every pack has ranges before its end.
          if (this.failure === undefined) fail(new Error(`pack ${id} sealed with no bytes appended`));
          return;
        }
        void then(async () => {
          // The next pack's appends wait while too many commits run (on object stores each holds a pack).
          while (this.commits.size >= MAX_COMMITS_IN_FLIGHT) await Promise.race(this.commits);
          this.throwIfFailed();
          const commit = this.commitStreamed(current, id, blobs, length).catch((err: unknown) => void fail(err));
          this.commits.add(commit);
          void commit.finally(() => this.commits.delete(commit));
        }).catch(() => undefined);
      },
    };
  }

  /** Waits for every stream's appends and commits; rethrows the first failure. */
  async drainStreams(): Promise<void> {
    while (this.streamSteps.size > 0 || this.commits.size > 0) await Promise.all([...this.streamSteps, ...this.commits]);
    this.throwIfFailed();
  }

  private async commitStreamed(begun: Promise<ObjectWriter>, id: Id, blobs: PackedBlob[], length: number): Promise<void> {
    const writer = await begun;
    try {
      await writer.commit(objectKey('pack', id), { length });
    } finally {
      this.begun.delete(begun);
    }
    this.packDurable(id, blobs, length);
  }

  /** Starts saving the partly filled packs (their buffers go once saved); waits only as {@link save} does. */
  async finishOpenPacks(): Promise<void> {
    for (const pack of this.builder.finishAll()) await this.save(pack);
  }

  /** Saves the partly filled packs and waits for every save; rethrows the first failure. */
  async flush(): Promise<void> {
    await this.finishOpenPacks();
    await Promise.all(this.uploads);
    this.throwIfFailed();
  }

  private async upload(pack: FinishedPack, onDurable: (() => void) | undefined): Promise<void> {
    await this.storage.save(objectKey('pack', pack.id), pack.bytes, { length: pack.bytes.length });
    this.packDurable(pack.id, pack.blobs, pack.bytes.length);
    // A pack an encoder worker built goes back to it (onDurable); one built here is reused here.
    if (this.ownBuffers.has(pack.bytes.buffer)) this.spareBuffers.push(pack.bytes.buffer);
    onDurable?.();
  }

  /** A pack is durable: its blobs go into the index (no longer on their way), and the listener hears of it. */
  private packDurable(id: Id, blobs: PackedBlob[], bytes: number): void {
    this.index.addPack(id, blobs);
    for (const blob of blobs) this.pending.delete(blob.id);
    this.onPackSaved({ id, blobs }, bytes);
  }

  /** A new pack's buffer for {@link builder}: a saved data pack's when there is one (see {@link spareBuffers}). */
  private allocate(bytes: number, type: BlobType, grows: boolean): Buffer {
    if (type === 'data' && !grows) {
      const spare = this.spareBuffers.findIndex((buffer) => buffer.byteLength >= bytes + DIRECT_ALIGN);
      if (spare >= 0) return alignedView(this.spareBuffers.splice(spare, 1)[0] as ArrayBuffer).subarray(0, bytes);
    }
    const buffer = allocateAligned(bytes);
    if (type === 'data' && !grows) this.ownBuffers.add(buffer.buffer);
    return buffer;
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
