import type { Worker } from 'node:worker_threads';
import type { Id } from '../../core/ids.js';
import type { FinishedPack } from '../pack/pack-builder.js';
import type { BlobType } from '../pack/pack-format.js';
import { startWorker } from './start-worker.js';
import type { BlobJob, EncoderSetup, FromEncoder, PackMessage } from './encoder-protocol.js';

/** Raw bytes handed to workers but not yet encoded; beyond this, {@link EncoderPool.encode} waits. */
const MAX_BYTES_IN_FLIGHT = 16 * 1024 * 1024;
/** Small blobs travel in batches, which saves a message per blob. */
const BATCH_BYTES = 1024 * 1024;
const BATCH_JOBS = 256;

interface WorkerState {
  readonly worker: Worker;
  inFlight: number;
  flushed?: () => void;
}

/**
 * Compresses, seals and packs blobs on worker threads, so the main thread only reads, chunks and
 * hashes. Finished packs come back through `onPack` (the caller saves them). Errors of any worker fail
 * the next {@link encode} or {@link flush}.
 */
export class EncoderPool {
  private readonly workers: WorkerState[];
  private batch: BlobJob[] = [];
  private batchBytes = 0;
  private batchBuffer = new Uint8Array(BATCH_BYTES);
  private batchScheduled = false;
  private next = 0;
  private bytesInFlight = 0;
  private waiters: (() => void)[] = [];
  private failure: Error | undefined;

  constructor(
    size: number,
    setup: EncoderSetup,
    private readonly onPack: (pack: FinishedPack) => void,
  ) {
    this.workers = Array.from({ length: Math.max(1, size) }, () => {
      const state: WorkerState = { worker: startWorker('encoder-worker', import.meta.url, setup), inFlight: 0 };
      state.worker.on('message', (message: FromEncoder) => this.receive(state, message));
      state.worker.on('error', (err) => this.fail(err));
      return state;
    });
  }

  /** Queues a blob (its bytes are copied); waits while too many bytes are being encoded. */
  async encode(type: BlobType, id: Id, data: Uint8Array): Promise<void> {
    this.throwIfFailed();
    while (this.bytesInFlight >= MAX_BYTES_IN_FLIGHT) {
      this.sendBatch();
      await new Promise<void>((resolve) => this.waiters.push(resolve));
      this.throwIfFailed();
    }
    if (this.batchBytes + data.length > this.batchBuffer.length) {
      this.sendBatch();
      if (data.length > this.batchBuffer.length) this.batchBuffer = new Uint8Array(data.length);
    }
    this.batchBuffer.set(data, this.batchBytes);
    this.batch.push({ type, id, offset: this.batchBytes, length: data.length });
    this.batchBytes += data.length;
    this.bytesInFlight += data.length;
    if (this.batchBytes >= BATCH_BYTES || this.batch.length >= BATCH_JOBS) this.sendBatch();
    else if (!this.batchScheduled) {
      this.batchScheduled = true;
      setImmediate(() => this.sendBatch());
    }
  }

  /** Waits until every queued blob is encoded and every worker handed over its partly filled packs. */
  async flush(): Promise<void> {
    this.sendBatch();
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

  private sendBatch(): void {
    this.batchScheduled = false;
    if (this.batch.length === 0) return;
    const state = this.workers[this.next++ % this.workers.length]!;
    state.inFlight += this.batch.length;
    const data = this.batchBuffer.subarray(0, this.batchBytes);
    state.worker.postMessage({ kind: 'blobs', jobs: this.batch, data }, [data.buffer]);
    this.batch = [];
    this.batchBytes = 0;
    this.batchBuffer = new Uint8Array(BATCH_BYTES);
  }

  private receive(state: WorkerState, message: FromEncoder): void {
    if (message.kind === 'error') {
      this.fail(new Error(`encoder worker: ${message.message}`));
      return;
    }
    for (const pack of message.packs) this.onPack(fromMessage(pack));
    if (message.kind === 'done') {
      state.inFlight -= message.blobs;
      this.bytesInFlight -= message.bytes;
      const waiters = this.waiters;
      this.waiters = [];
      waiters.forEach((wake) => wake());
    } else {
      state.flushed?.();
      state.flushed = undefined;
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.waiters.forEach((wake) => wake());
    this.waiters = [];
    for (const state of this.workers) state.flushed?.();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }
}

function fromMessage(pack: PackMessage): FinishedPack {
  return { id: pack.id, blobs: pack.blobs, bytes: Buffer.from(pack.bytes.buffer, pack.bytes.byteOffset, pack.bytes.byteLength) };
}
