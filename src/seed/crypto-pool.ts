import type { Worker } from 'node:worker_threads';
import { IntegrityError } from '../core/errors.js';
import { startWorker } from '../engine/repository/start-worker.js';
import { CryptoHandler } from './crypto-handler.js';
import { segmentCount } from './disk-format.js';
import { type CryptoReply, type CryptoRequest, type SealReply, type SealRequest, type VerifyReply, type VerifyRequest } from './crypto-protocol.js';

type Pending = { resolve: (reply: CryptoReply) => void; reject: (err: Error) => void };

interface Lane {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
  /** Bytes sent and not answered yet: new files go to the least busy lane. */
  load: number;
}

/**
 * Diskprep's crypto on worker threads: protecting segments (with hashing) and verification run on `size` workers
 * while the main thread reads and writes. Runs of one file go to the same worker in order (its hash
 * state lives there); a new file goes to the least busy worker. Size 0 runs everything on the calling
 * thread (tests, tiny jobs). Close it when done, or the workers keep the process alive.
 */
export class CryptoPool {
  private readonly lanes: Lane[];
  private readonly local = new CryptoHandler();
  private readonly fileLanes = new Map<number, Lane>();
  private nextId = 0;
  private failure: Error | undefined;

  constructor(readonly size: number) {
    this.lanes = Array.from({ length: Math.max(0, size) }, () => {
      const lane: Lane = { worker: startWorker('crypto-worker', import.meta.url, null), pending: new Map(), load: 0 };
      lane.worker.on('message', (reply: CryptoReply) => this.receive(lane, reply));
      lane.worker.on('error', (err) => this.fail(lane, err));
      lane.worker.on('exit', (code) => this.fail(lane, new Error(`a diskprep crypto worker stopped (exit code ${code})`)));
      return lane;
    });
  }

  /**
   * Protects a run of segments of a file (see SealRequest). The whole ArrayBuffer under `data` is moved to
   * the worker and back (the reply's `data` is a view of it): the caller must own it alone and use only the reply's view afterwards.
   */
  async seal(request: Omit<SealRequest, 'kind' | 'id'>): Promise<SealReply> {
    const full: SealRequest = { kind: 'seal', id: this.nextId++, ...request };
    if (this.lanes.length === 0) return this.local.seal(full);
    let lane = this.fileLanes.get(request.file);
    if (!lane || request.first === 0) {
      lane = this.leastBusy();
      this.fileLanes.set(request.file, lane);
    }
    const count = request.data.length === 0 ? 1 : Math.ceil(request.data.length / request.segmentSize);
    if (request.first + count >= segmentCount(request.size, request.segmentSize)) this.fileLanes.delete(request.file);
    return (await this.send(lane, full, request.data.length, request.data.buffer instanceof ArrayBuffer ? [request.data.buffer] : [])) as SealReply;
  }

  /** Verifies one file of a disk on the least busy worker. */
  async verify(request: Omit<VerifyRequest, 'kind' | 'id'>): Promise<VerifyReply> {
    const full: VerifyRequest = { kind: 'verify', id: this.nextId++, ...request };
    if (this.lanes.length === 0) return this.local.verify(full);
    return (await this.send(this.leastBusy(), full, request.entry.size, [])) as VerifyReply;
  }

  /** Stops the workers; pending requests fail. */
  async close(): Promise<void> {
    this.failure ??= new Error('the crypto pool was closed');
    await Promise.all(this.lanes.map((lane) => lane.worker.terminate()));
  }

  private leastBusy(): Lane {
    return this.lanes.reduce((best, lane) => (lane.load < best.load ? lane : best));
  }

  private send(lane: Lane, request: CryptoRequest, bytes: number, transfer: ArrayBuffer[]): Promise<CryptoReply> {
    if (this.failure) return Promise.reject(this.failure);
    lane.load += bytes;
    return new Promise<CryptoReply>((resolve, reject) => {
      lane.pending.set(request.id, {
        resolve: (reply) => {
          lane.load -= bytes;
          resolve(reply);
        },
        reject,
      });
      lane.worker.postMessage(request, transfer);
    });
  }

  private receive(lane: Lane, reply: CryptoReply): void {
    const pending = lane.pending.get(reply.id);
    if (!pending) return;
    lane.pending.delete(reply.id);
    if (reply.kind === 'failed') pending.reject(reply.integrity ? new IntegrityError(reply.message) : new Error(reply.message));
    else pending.resolve(reply);
  }

  private fail(lane: Lane, err: Error): void {
    this.failure ??= err;
    for (const pending of lane.pending.values()) pending.reject(this.failure);
    lane.pending.clear();
  }
}
