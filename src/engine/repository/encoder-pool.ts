import type { Worker } from 'node:worker_threads';
import type { Clock } from '../../core/clock.js';
import type { Id } from '../../core/ids.js';
import { DIRECT_ALIGN } from '../../os/direct-write.js';
import { optionalAddon } from '../../os/native-addon.js';
import type { FinishedPack } from '../pack/pack-builder.js';
import type { BlobType, PackedBlob } from '../pack/pack-format.js';
import { bytesCopier } from '../os/posix-extras.js';
import { startWorker } from './start-worker.js';
import type { BlobJob, EncoderSetup, FromEncoder, PackMessage } from './encoder-protocol.js';

/** A blob's id and whether this writer stores it (false: the repository has it or it is on its way). */
export interface HashedBlob {
  readonly id: Id;
  readonly added: boolean;
}

/**
 * Decides, once a worker hashed a blob, whether it is stored: true reserves the id (no other blob with
 * it is stored again), false drops the blob before it is compressed.
 */
export type BlobReserver = (type: BlobType, id: Id, length: number) => boolean;

/** A job of a batch on the main thread's side: what to tell its submitter once the worker hashed it. */
interface PendingJob {
  readonly type: BlobType;
  readonly length: number;
  /** Set for blobs hashed (and reserved) on the main thread. */
  readonly id?: Id;
  readonly resolve?: (blob: HashedBlob) => void;
  readonly reject?: (err: Error) => void;
}

/**
 * Shared memory per worker for blobs on their way, by default ({@link EncoderPoolOptions.ringBytes}). The
 * rings bound the raw bytes in flight; a blob larger than a ring (a chunk above 4 MiB of the 8 MiB
 * maximum, rare with 1 MiB average chunks; a huge tree) is hashed on the main thread and travels in its own
 * transferred buffer (see RepositoryWriter.put). While a worker's pack is written out, its ring keeps
 * filling. 4 MiB instead of 8: the rings are resident in full all along, and since data packs are written
 * as they fill a worker no longer stops for a whole pack's save, so the larger ring bought no speed; a full
 * backup at scale 1 peaked 8–10 MiB lower (docs/PERFORMANCE.md, "Full backup peak memory").
 */
export const DEFAULT_RING_BYTES = 4 * 1024 * 1024;
/**
 * The data packs' ring of a worker (see PackStream): the sealed bytes of its open data pack held at most,
 * sent to the main thread as they fill, which writes them out and gives the space back. It bounds a
 * worker's data pack memory (before packs were written as they fill, a whole pack's buffer, 17 MiB, plus
 * a share of the packs waiting to be saved). The overflow past it lets a blob sealed at the ring's end
 * run on in one piece: it fits the largest chunk of new repositories (2 MiB) sealed; larger blobs are
 * sealed aside and copied in.
 */
export const DEFAULT_STREAM_RING_BYTES = 4 * 1024 * 1024;
export const DEFAULT_STREAM_OVERFLOW_BYTES = 2 * 1024 * 1024 + 64 * 1024;
/**
 * An encoder worker's young generation, in MiB (Node's default lets it grow to 8 MiB committed, 16 at
 * most). A worker allocates little JS per batch (descriptions, ids), but its garbage also holds off-heap
 * buffers (AES-GCM's pieces) until a scavenge frees them: with 2 MiB it scavenges more often. Measured on a
 * full backup of 1.1 GB with two workers (busy machine, runs alternating): peak RSS 247–256 MiB against
 * 264–271 with the default, the same CPU seconds; 1 MiB gave no less, 4 MiB about half the gain.
 */
const WORKER_YOUNG_GENERATION_MB = 2;
/** Copies a blob into a ring (shared memory) at memmove's speed; see bytesCopier. */
const copyBytes = bytesCopier();
/** Small blobs travel in batches, which saves a message per blob. */
const BATCH_BYTES = 1024 * 1024;
const BATCH_JOBS = 256;
/**
 * The default of {@link EncoderPoolOptions.stallBeforeNextWorker}, in milliseconds. A worker costs
 * ~0.1–0.2 CPU-s to start (its isolate, modules) and ~20 MiB at least (ring, zstd context, heap, pack
 * buffers as it fills them). Reads wait for the workers only for new data (known blobs are hashed on the
 * main thread when the rings are full, see RepositoryWriter.put): an incremental backup storing ~30 MiB
 * waited 0.1–0.2 s in all (busy 2-core machine), a full backup ~half of its time. One second keeps
 * incremental backups of a few hundred MiB of new data on one worker, and costs a full backup about the
 * second worker's share of its first ~2 s.
 */
export const DEFAULT_STALL_BEFORE_NEXT_WORKER = 1000;

export interface EncoderPoolOptions {
  /**
   * Workers start one at a time: the first at once, each next one once the main thread has waited this
   * many milliseconds in all (by `clock`) for room in the running workers' full rings since the last one
   * started, i.e. once they fell behind the reads. 0 starts every worker at once. Default
   * {@link DEFAULT_STALL_BEFORE_NEXT_WORKER}.
   */
  readonly stallBeforeNextWorker?: number;
  /** Measures the waits (default: none are measured, so with a stall above 0 only the first worker starts). */
  readonly clock?: Clock;
  /** Each worker's ring of blobs on their way, {@link DEFAULT_RING_BYTES} by default. */
  readonly ringBytes?: number;
  /** The data packs' ring of each worker, {@link DEFAULT_STREAM_RING_BYTES} by default (whole 4 KiB blocks). */
  readonly streamRingBytes?: number;
  /** Its overflow, {@link DEFAULT_STREAM_OVERFLOW_BYTES} by default. */
  readonly streamOverflowBytes?: number;
}

/**
 * Where a worker's data packs go as they fill (one per worker, made by the pool's `newDataPackSink`):
 * `append` each range in the order given (it resolves once the bytes may be reused: the pool then gives
 * that ring space back to the worker; the sink must resolve appends in order), and `sealed` at a pack's
 * end, after its last range. A rejected append fails the pool.
 */
export interface DataPackSink {
  append(bytes: Uint8Array): Promise<void>;
  sealed(id: Id, blobs: PackedBlob[], length: number): void;
}
/**
 * A worker and its ring. Space is taken at `head` and given back in the same order when the worker
 * answers a batch: `used` counts the bytes between the oldest unanswered blob and `head`, including
 * the tail skipped when a blob did not fit before the ring's end.
 */
interface WorkerState {
  readonly worker: Worker;
  readonly ring: Uint8Array;
  head: number;
  used: number;
  /** Ring bytes of each batch sent and not yet answered, oldest first. */
  readonly batches: number[];
  /** Tree packs the worker handed over that are not saved yet. */
  packsOut: number;
  /** The data packs' ring (PackStream's), its sink, and the bytes of it sent and not yet written out. */
  readonly out: Uint8Array;
  readonly sink: DataPackSink;
  outUnreleased: number;
  /** Set at the worker's first answer: waiting for a worker that is still starting is not its falling behind. */
  running?: boolean;
  /** Batches sent and not yet hashed, oldest first (each worker answers `hashed` in order). */
  readonly hashing: PendingJob[][];
  flushed?: () => void;
}

/**
 * A finished tree pack: save it, then call `settle(true)` once it is durable, to hand its buffer back to the
 * worker, or `settle(false)` when it could not be saved (the pool then fails). Every pack must be settled.
 */
export type PackListener = (pack: FinishedPack, settle: (saved: boolean) => void) => void;

/**
 * Hashes, compresses, seals and packs blobs on worker threads, so the main thread only reads and
 * chunks. A batch travels twice: the worker hashes its blobs and answers their ids, the main thread
 * deduplicates them (see {@link BlobReserver}) and tells the worker which to encode. Data packs come
 * back as they fill, through a {@link DataPackSink} per worker (the caller appends them to storage); tree
 * packs whole through `onPack`. Errors of any worker fail the next
 * {@link submit}, {@link encode} or {@link flush}, and every blob waiting for its id.
 */
export class EncoderPool {
  private readonly workers: WorkerState[] = [];
  private readonly maxWorkers: number;
  private readonly stallBeforeNextWorker: number;
  private readonly clock: Clock | undefined;
  /** Milliseconds the main thread waited for ring space since the last worker started. */
  private stalled = 0;
  /** Reads waiting for ring space now (several files are read at once), and since when one was. */
  private feedersWaiting = 0;
  private stallStart = 0;
  private current: WorkerState | undefined;
  private batch: BlobJob[] = [];
  private pending: PendingJob[] = [];
  private batchBytes = 0;
  private batchCharge = 0;
  private batchTransfer: ArrayBuffer[] = [];
  private batchScheduled = false;
  private next = 0;
  private waiters: (() => void)[] = [];
  private failure: Error | undefined;
  private readonly ringBytes: number;
  private readonly streamRingBytes: number;
  private readonly streamOverflowBytes: number;
  /** Bytes of the data packs' rings sent to the sinks and not written out yet, now and at most. */
  private outUnreleased = 0;
  private outUnreleasedPeak = 0;

  /** Starts the first worker; up to `size` in all (see {@link EncoderPoolOptions.stallBeforeNextWorker}). */
  constructor(
    size: number,
    private readonly setup: Pick<EncoderSetup, 'encryptionKey' | 'contentIdKey' | 'compressionLevel' | 'packSize'>,
    private readonly onPack: PackListener,
    private readonly newDataPackSink: () => DataPackSink,
    private readonly reserve: BlobReserver,
    options: EncoderPoolOptions = {},
  ) {
    this.maxWorkers = Math.max(1, size);
    this.stallBeforeNextWorker = options.stallBeforeNextWorker ?? DEFAULT_STALL_BEFORE_NEXT_WORKER;
    this.clock = options.clock;
    this.ringBytes = options.ringBytes ?? DEFAULT_RING_BYTES;
    this.streamRingBytes = options.streamRingBytes ?? DEFAULT_STREAM_RING_BYTES;
    this.streamOverflowBytes = options.streamOverflowBytes ?? DEFAULT_STREAM_OVERFLOW_BYTES;
    do this.startWorker();
    while (this.stallBeforeNextWorker === 0 && this.workers.length < this.maxWorkers);
  }

  /** How many workers run now (they start one at a time as the running ones fall behind). */
  get workerCount(): number {
    return this.workers.length;
  }

  /**
   * The bytes of data packs the workers may hold in all (their rings and overflows), their rings' bytes,
   * and the most bytes sent to the sinks and not yet written out at once (never above the rings' bytes).
   */
  get streamStats(): { readonly budget: number; readonly ringBytes: number; readonly peakUnwritten: number } {
    return { budget: this.workers.length * (this.streamRingBytes + this.streamOverflowBytes), ringBytes: this.workers.length * this.streamRingBytes, peakUnwritten: this.outUnreleasedPeak };
  }

  private startWorker(): void {
    const ring = new SharedArrayBuffer(this.ringBytes);
    const outLength = this.streamRingBytes + this.streamOverflowBytes;
    const outRing = new SharedArrayBuffer(outLength + DIRECT_ALIGN);
    // The ring starts on a block boundary, so its ranges are written past the page cache (os/direct-write.ts).
    const misalignment = optionalAddon()?.alignmentOf(new Uint8Array(outRing)) ?? 0;
    const out = new Uint8Array(outRing, misalignment === 0 ? 0 : DIRECT_ALIGN - misalignment, outLength);
    const outSetup = { outRing, outOffset: out.byteOffset, outLength, outRingBytes: this.streamRingBytes };
    const worker = startWorker('encoder-worker', import.meta.url, { ...this.setup, ring, ...outSetup }, { resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
    const state: WorkerState = { worker, ring: new Uint8Array(ring), head: 0, used: 0, batches: [], packsOut: 0, out, sink: this.newDataPackSink(), outUnreleased: 0, hashing: [] };
    state.worker.on('message', (message: FromEncoder) => this.receive(state, message));
    state.worker.on('error', (err) => this.fail(err));
    this.workers.push(state);
    this.stalled = 0;
    if (this.feedersWaiting > 0 && this.clock) this.stallStart = this.clock.now();
  }

  /**
   * Waits for ring space on behalf of the reads (the workers are behind them); once such waits add up to
   * {@link EncoderPoolOptions.stallBeforeNextWorker}, starts the next worker.
   */
  private async waitToFeed(): Promise<void> {
    const clock = this.clock;
    if (!clock || this.workers.length >= this.maxWorkers || !this.workers.every((w) => w.running)) return this.waitForSpace();
    // Time during which at least one read waited, counted once however many did.
    if (this.feedersWaiting++ === 0) this.stallStart = clock.now();
    try {
      await this.waitForSpace();
    } finally {
      if (--this.feedersWaiting === 0) this.stalled += clock.now() - this.stallStart;
    }
    if (this.stalled >= this.stallBeforeNextWorker && this.workers.length < this.maxWorkers) this.startWorker();
  }

  /** True when a blob of `length` bytes can go through {@link submit} (it fits in a ring). */
  fits(length: number): boolean {
    return length <= this.ringBytes;
  }

  /** True when a blob of `length` bytes can go into a ring now, without waiting for the workers. */
  hasRoom(length: number): boolean {
    return this.workers.some((state) => ringSlot(state, length) !== undefined);
  }

  /**
   * Queues a blob to be hashed on a worker, then stored unless known: resolves once its bytes are
   * copied into a ring (the caller may reuse `data`), with a promise of its id. Waits while the rings
   * are full. `data` must {@link fits}.
   */
  async submit(type: BlobType, data: Uint8Array): Promise<{ readonly hashed: Promise<HashedBlob> }> {
    this.throwIfFailed();
    if (!this.fits(data.length)) throw new RangeError(`a blob of ${data.length} bytes does not fit in a ring`);
    let resolve!: (blob: HashedBlob) => void;
    let reject!: (err: Error) => void;
    const hashed = new Promise<HashedBlob>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // A failure of the pool may reject it before the caller holds it: not an unhandled rejection.
    hashed.catch(() => undefined);
    await this.queue({ type, length: data.length, resolve, reject }, data);
    return { hashed };
  }

  /** Queues a blob hashed and reserved by the caller (its bytes are copied); waits while the rings are full. */
  async encode(type: BlobType, id: Id, data: Uint8Array): Promise<void> {
    this.throwIfFailed();
    if (data.length > this.ringBytes) {
      // Too large for any ring: a copy of its own, transferred.
      this.sendBatch();
      while (this.workers.every((w) => w.used > 0)) await this.waitToFeed();
      const own = new Uint8Array(data);
      this.current = this.workers.find((w) => w.used === 0)!;
      this.batch.push({ type, id, offset: 0, length: data.length, data: own });
      this.pending.push({ type, id, length: data.length });
      this.batchTransfer.push(own.buffer);
      this.batchBytes += data.length;
      this.sendBatch();
      return;
    }
    await this.queue({ type, id, length: data.length }, data);
  }

  private async queue(job: PendingJob, data: Uint8Array): Promise<void> {
    for (;;) {
      if (this.current && this.place(this.current, job, data)) break;
      this.sendBatch();
      const free = this.pickWorker(data.length);
      if (free) {
        this.current = free;
        continue;
      }
      await this.waitToFeed();
    }
    if (this.batchBytes >= BATCH_BYTES || this.batch.length >= BATCH_JOBS) this.sendBatch();
    else if (!this.batchScheduled) {
      this.batchScheduled = true;
      setImmediate(() => this.sendBatch());
    }
  }

  /** Waits until every queued blob is encoded and every worker handed over its partly filled packs. */
  async flush(): Promise<void> {
    this.sendBatch();
    // The workers must have every encode decision before they finish their packs.
    while (!this.failure && this.workers.some((w) => w.hashing.length > 0)) await this.waitForSpace();
    this.throwIfFailed();
    await Promise.all(
      this.workers.map(
        (state) =>
          new Promise<void>((resolve) => {
            state.flushed = resolve;
            state.worker.postMessage({ kind: 'flush' });
          }),
      ),
    );
    this.throwIfFailed();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((state) => state.worker.terminate()));
  }

  /** Copies the blob into the worker's ring and adds it to the batch; false when it does not fit. */
  private place(state: WorkerState, job: PendingJob, data: Uint8Array): boolean {
    const at = ringSlot(state, data.length);
    if (at === undefined) return false;
    const charge = at.skipped + data.length;
    copyBytes(state.ring, at.offset, data);
    state.head = at.offset + data.length;
    state.used += charge;
    this.batch.push(job.id === undefined ? { type: job.type, offset: at.offset, length: data.length } : { type: job.type, id: job.id, offset: at.offset, length: data.length });
    this.pending.push(job);
    this.batchBytes += data.length;
    this.batchCharge += charge;
    return true;
  }

  /**
   * The next worker, round robin, whose ring has room for `bytes`, preferring one whose data packs'
   * ring is not half full of bytes being written out and then one without a tree pack being saved (it
   * may soon have to wait). A worker waiting for room still takes blobs while its ring has room: it
   * hashes them meanwhile.
   */
  private pickWorker(bytes: number): WorkerState | undefined {
    let best: WorkerState | undefined;
    let bestRank = 3;
    for (let i = 0; i < this.workers.length; i++) {
      const state = this.workers[this.next++ % this.workers.length]!;
      if (ringSlot(state, bytes) === undefined) continue;
      const rank = state.outUnreleased > this.streamRingBytes / 2 ? 2 : state.packsOut > 0 ? 1 : 0;
      if (rank === 0) return state;
      if (rank < bestRank) {
        best = state;
        bestRank = rank;
      }
    }
    return best;
  }

  private async waitForSpace(): Promise<void> {
    await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.throwIfFailed();
  }

  private wakeWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((wake) => wake());
  }

  /** Deduplicates a hashed batch and tells the worker which of its blobs to encode (in batch order). */
  private decide(state: WorkerState, ids: readonly Id[]): void {
    const jobs = state.hashing.shift() ?? [];
    const encode = jobs.map((job, i) => {
      if (job.id !== undefined) return true;
      const id = ids[i]!;
      const added = !this.failure && this.reserve(job.type, id, job.length);
      job.resolve?.({ id, added });
      return added;
    });
    state.worker.postMessage({ kind: 'encode', encode });
    this.wakeWaiters();
  }

  /** Fails the pool (a pack could not be saved): the next {@link encode} or {@link flush} throws `err`. */
  abort(err: Error): void {
    this.fail(err);
  }

  private sendBatch(): void {
    this.batchScheduled = false;
    const state = this.current;
    if (this.batch.length === 0 || !state) return;
    state.batches.push(this.batchCharge);
    state.hashing.push(this.pending);
    state.worker.postMessage({ kind: 'hash', jobs: this.batch }, this.batchTransfer);
    this.batch = [];
    this.pending = [];
    this.batchBytes = 0;
    this.batchCharge = 0;
    this.batchTransfer = [];
    // The next batch goes to the next worker, so both work while the main thread fills the other ring.
    this.current = undefined;
  }

  private receive(state: WorkerState, message: FromEncoder): void {
    state.running = true;
    if (message.kind === 'error') {
      this.fail(new Error(`encoder worker: ${message.message}`));
      return;
    }
    if (message.kind === 'hashed') {
      this.decide(state, message.ids);
      return;
    }
    if (message.kind === 'done') {
      state.used -= state.batches.shift() ?? 0;
      if (state.used === 0) state.head = 0;
      this.wakeWaiters();
      return;
    }
    if (message.kind === 'range') {
      const { offset, length, release } = message;
      state.outUnreleased += length;
      this.outUnreleased += length;
      this.outUnreleasedPeak = Math.max(this.outUnreleasedPeak, this.outUnreleased);
      state.sink.append(state.out.subarray(offset, offset + length)).then(
        () => {
          state.outUnreleased -= length;
          this.outUnreleased -= length;
          if (!this.failure) state.worker.postMessage({ kind: 'released', bytes: release });
        },
        (err: unknown) => this.fail(err instanceof Error ? err : new Error(String(err))),
      );
      return;
    }
    if (message.kind === 'sealed') {
      state.sink.sealed(message.id, message.blobs, message.length);
      return;
    }
    for (const pack of message.packs) {
      const finished = fromMessage(pack);
      state.packsOut++;
      let settled = false;
      this.onPack(finished, () => {
        if (settled) return;
        settled = true;
        state.packsOut--;
        this.wakeWaiters();
      });
    }
    if (message.kind === 'flushed') {
      state.flushed?.();
      state.flushed = undefined;
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const job of [...this.pending, ...this.workers.flatMap((w) => w.hashing.flat())]) job.reject?.(this.failure);
    for (const state of this.workers) state.hashing.length = 0;
    this.pending = [];
    this.batch = [];
    this.waiters.forEach((wake) => wake());
    this.waiters = [];
    for (const state of this.workers) state.flushed?.();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }
}

/**
 * Where `bytes` fit in the ring: at `head`, or at 0 after skipping the rest of the ring when the oldest
 * blob still in use is far enough from the start. Undefined when there is no room now.
 */
function ringSlot(state: WorkerState, bytes: number): { offset: number; skipped: number } | undefined {
  const size = state.ring.length;
  if (state.used === 0) return bytes <= size ? { offset: 0, skipped: 0 } : undefined;
  const tail = (state.head - state.used + 2 * size) % size;
  if (tail < state.head) {
    // In use: [tail, head). Free: [head, size) and [0, tail).
    if (state.head + bytes <= size) return { offset: state.head, skipped: 0 };
    if (bytes <= tail) return { offset: 0, skipped: size - state.head };
    return undefined;
  }
  // Wrapped (or full): in use [tail, size) and [0, head). Free: [head, tail).
  if (state.head + bytes <= tail) return { offset: state.head, skipped: 0 };
  return undefined;
}

function fromMessage(pack: PackMessage): FinishedPack {
  return { id: pack.id, blobs: pack.blobs, bytes: Buffer.from(pack.bytes.buffer, pack.bytes.byteOffset, pack.bytes.byteLength) };
}
