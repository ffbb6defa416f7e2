import type { Worker } from 'node:worker_threads';
import type { Clock } from '../../core/clock.js';
import type { Id } from '../../core/ids.js';
import type { FinishedPack } from '../pack/pack-builder.js';
import type { BlobType } from '../pack/pack-format.js';
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
 * Shared memory per worker for blobs on their way. The rings bound the raw bytes in flight; a ring must
 * hold a chunk of the largest size (8 MiB), and a blob larger than a ring (a huge tree) travels in its
 * own transferred buffer. While a worker's pack is saved, its ring keeps filling.
 */
const RING_BYTES = 8 * 1024 * 1024;
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
  /**
   * Data pack buffers beyond one per running worker (default {@link DEFAULT_SPARE_PACK_BUFFERS}): the
   * packs that may wait to be saved while every worker fills one of its own. The workers share them.
   */
  readonly sparePackBuffers?: number;
}

/**
 * The default of {@link EncoderPoolOptions.sparePackBuffers}. A data pack buffer is a pack's size and
 * more (17 MiB by default), the largest thing a worker holds. Packs are saved one after another, so
 * one pack waiting to be saved while each worker fills its own keeps the saves going; a worker that
 * finishes its pack while that one still waits stops encoding until it is saved, its ring filling
 * meanwhile. Before, each worker had a buffer of its own for a pack out: 2 per worker.
 */
export const DEFAULT_SPARE_PACK_BUFFERS = 1;
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
  /** Packs the worker handed over that are not saved yet. */
  packsOut: number;
  /** True while the worker waits for a data pack buffer (it asked with `want`). */
  wants: boolean;
  /** Set at the worker's first answer: waiting for a worker that is still starting is not its falling behind. */
  running?: boolean;
  /** Batches sent and not yet hashed, oldest first (each worker answers `hashed` in order). */
  readonly hashing: PendingJob[][];
  flushed?: () => void;
}

/**
 * A finished pack: save it, then call `settle(true)` once it is durable, to hand its buffer back to the
 * worker, or `settle(false)` when it could not be saved (the pool then fails). Every pack must be settled.
 */
export type PackListener = (pack: FinishedPack, settle: (saved: boolean) => void) => void;

/**
 * Hashes, compresses, seals and packs blobs on worker threads, so the main thread only reads and
 * chunks. A batch travels twice: the worker hashes its blobs and answers their ids, the main thread
 * deduplicates them (see {@link BlobReserver}) and tells the worker which to encode. Finished packs
 * come back through `onPack` (the caller saves them). Errors of any worker fail the next
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
  private readonly sparePackBuffers: number;
  /** Data pack buffers granted to workers and not back yet (open packs, packs on their way or being saved). */
  private packBuffersTaken = 0;
  private packBuffersNew = 0;
  private packBuffersPeak = 0;
  /** Buffers of saved data packs, for the next worker that starts one. */
  private readonly freePackBuffers: ArrayBuffer[] = [];
  /** Workers waiting for a data pack buffer, in the order they asked. */
  private wanting: WorkerState[] = [];

  /** Starts the first worker; up to `size` in all (see {@link EncoderPoolOptions.stallBeforeNextWorker}). */
  constructor(
    size: number,
    private readonly setup: Omit<EncoderSetup, 'ring'>,
    private readonly onPack: PackListener,
    private readonly reserve: BlobReserver,
    options: EncoderPoolOptions = {},
  ) {
    this.maxWorkers = Math.max(1, size);
    this.stallBeforeNextWorker = options.stallBeforeNextWorker ?? DEFAULT_STALL_BEFORE_NEXT_WORKER;
    this.clock = options.clock;
    this.sparePackBuffers = Math.max(0, options.sparePackBuffers ?? DEFAULT_SPARE_PACK_BUFFERS);
    do this.startWorker();
    while (this.stallBeforeNextWorker === 0 && this.workers.length < this.maxWorkers);
  }

  /** How many workers run now (they start one at a time as the running ones fall behind). */
  get workerCount(): number {
    return this.workers.length;
  }

  /**
   * The data pack buffers the workers may hold in all, in open packs and in packs not saved yet: one per
   * running worker and {@link EncoderPoolOptions.sparePackBuffers}.
   */
  get packBufferBudget(): number {
    return this.workers.length + this.sparePackBuffers;
  }

  /** Data pack buffers allocated so far, and the most held at once (never above {@link packBufferBudget}). */
  get packBufferStats(): { readonly allocated: number; readonly peak: number } {
    return { allocated: this.packBuffersNew, peak: this.packBuffersPeak };
  }

  private startWorker(): void {
    const ring = new SharedArrayBuffer(RING_BYTES);
    const state: WorkerState = { worker: startWorker('encoder-worker', import.meta.url, { ...this.setup, ring }, { resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } }), ring: new Uint8Array(ring), head: 0, used: 0, batches: [], packsOut: 0, wants: false, hashing: [] };
    state.worker.on('message', (message: FromEncoder) => this.receive(state, message));
    state.worker.on('error', (err) => this.fail(err));
    this.workers.push(state);
    this.stalled = 0;
    if (this.feedersWaiting > 0 && this.clock) this.stallStart = this.clock.now();
    // One more worker, one more buffer in the budget.
    this.grantPackBuffers();
  }

  /** Hands data pack buffers to the workers waiting for one, oldest first, while the budget allows. */
  private grantPackBuffers(): void {
    while (this.wanting.length > 0 && !this.failure && this.packBuffersTaken < this.packBufferBudget) {
      const state = this.wanting.shift()!;
      state.wants = false;
      this.packBuffersTaken++;
      this.packBuffersPeak = Math.max(this.packBuffersPeak, this.packBuffersTaken);
      const buffer = this.freePackBuffers.pop();
      if (buffer) state.worker.postMessage({ kind: 'buffer', buffer }, [buffer]);
      else {
        this.packBuffersNew++;
        state.worker.postMessage({ kind: 'buffer' });
      }
    }
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
    return length <= RING_BYTES;
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
    if (data.length > RING_BYTES) {
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
   * The next worker, round robin, whose ring has room for `bytes`, preferring one that encodes (not
   * waiting for a data pack buffer) and then one without a pack being saved (it may soon have to wait).
   * A worker waiting for a buffer still takes blobs while its ring has room: it hashes them meanwhile.
   */
  private pickWorker(bytes: number): WorkerState | undefined {
    let best: WorkerState | undefined;
    let bestRank = 3;
    for (let i = 0; i < this.workers.length; i++) {
      const state = this.workers[this.next++ % this.workers.length]!;
      if (ringSlot(state, bytes) === undefined) continue;
      const rank = state.wants ? 2 : state.packsOut > 0 ? 1 : 0;
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
    if (message.kind === 'want') {
      state.wants = true;
      this.wanting.push(state);
      this.grantPackBuffers();
      return;
    }
    for (const pack of message.packs) {
      const finished = fromMessage(pack);
      // Every data pack holds one buffer of the budget; tree packs start small and are not counted.
      const budgeted = pack.blobs[0]?.type === 'data';
      state.packsOut++;
      let settled = false;
      this.onPack(finished, (saved) => {
        if (settled) return;
        settled = true;
        state.packsOut--;
        if (budgeted) {
          this.packBuffersTaken--;
          // Only a saved pack's buffer is reused (after a failure, storage may still hold on to it).
          if (saved && !this.failure) this.freePackBuffers.push(pack.bytes.buffer as ArrayBuffer);
          this.grantPackBuffers();
        }
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
    this.wanting = [];
    this.freePackBuffers.length = 0;
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
