import type { Worker } from 'node:worker_threads';
import { IntegrityError } from '../../core/errors.js';
import type { Id } from '../../core/ids.js';
import type { Compression } from '../compress/zstd.js';
import type { BlobType } from '../pack/pack-format.js';
import { startWorker } from './start-worker.js';
import { transferable, type DecodeReply, type DecodeRequest, type DecoderSetup, type RecycleRequest } from './decoder-protocol.js';

interface Pending {
  resolve(data: Buffer): void;
  reject(err: Error): void;
}

interface DecoderWorker {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
}

/**
 * Decodes blobs (authenticate, decrypt, decompress) on worker threads, so a restore's main thread only
 * moves bytes between files. Requests go to the worker with the fewest in flight. A damaged blob
 * rejects with `IntegrityError`, like BlobCodec.decode; a worker that dies fails its pending requests.
 */
export class DecoderPool {
  private readonly workers: DecoderWorker[];
  private seq = 0;
  private nextRecycle = 0;
  /** Buffers of decoded blobs handed out and not yet recycled (weakly: most are simply dropped). */
  private readonly decoded = new WeakSet<ArrayBuffer>();
  private failure: Error | undefined;

  constructor(size: number, setup: DecoderSetup) {
    this.workers = Array.from({ length: Math.max(1, size) }, () => {
      const state: DecoderWorker = { worker: startWorker('decoder-worker', import.meta.url, setup), pending: new Map() };
      state.worker.unref();
      state.worker.on('message', (reply: DecodeReply) => this.receive(state, reply));
      state.worker.on('error', (err) => this.failAll(state, err));
      state.worker.on('exit', () => this.failAll(state, new Error('decoder worker exited')));
      return state;
    });
  }

  /** Decodes one blob; `sealed` is handed over (transferred) and must not be used afterwards. */
  decode(type: BlobType, id: Id, sealed: Uint8Array, compression: Compression, rawLength: number): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    const state = this.workers.reduce((best, w) => (w.pending.size < best.pending.size ? w : best));
    const seq = this.seq++;
    const bytes = transferable(sealed);
    const request: DecodeRequest = { seq, type, id, compression, rawLength, sealed: bytes };
    return new Promise<Buffer>((resolve, reject) => {
      state.pending.set(seq, { resolve, reject });
      state.worker.ref();
      state.worker.postMessage(request, [bytes.buffer as ArrayBuffer]);
    });
  }

  /**
   * Hands a buffer {@link decode} returned back for reuse; the caller must not touch it afterwards.
   * Buffers from elsewhere are ignored.
   */
  recycle(data: Buffer): void {
    const buffer = data.buffer;
    if (this.failure || data.byteOffset !== 0 || !(buffer instanceof ArrayBuffer) || !this.decoded.has(buffer)) return;
    this.decoded.delete(buffer);
    const state = this.workers[this.nextRecycle++ % this.workers.length]!;
    state.worker.postMessage({ kind: 'recycle', buffer } satisfies RecycleRequest, [buffer]);
  }

  async close(): Promise<void> {
    this.failure ??= new Error('decoder pool closed');
    await Promise.all(this.workers.map((state) => state.worker.terminate()));
  }

  private receive(state: DecoderWorker, reply: DecodeReply): void {
    const pending = state.pending.get(reply.seq);
    if (!pending) return;
    state.pending.delete(reply.seq);
    if (state.pending.size === 0) state.worker.unref();
    if ('data' in reply) {
      this.decoded.add(reply.data.buffer as ArrayBuffer);
      pending.resolve(Buffer.from(reply.data.buffer, reply.data.byteOffset, reply.data.byteLength));
    }
    else pending.reject(reply.integrity ? new IntegrityError(reply.error) : new Error(`decoder worker: ${reply.error}`));
  }

  /** A worker that failed or exited fails its requests and the pool: later requests reject at once. */
  private failAll(state: DecoderWorker, err: Error): void {
    this.failure ??= err;
    for (const pending of state.pending.values()) pending.reject(err);
    state.pending.clear();
  }
}
