import type { Worker } from 'node:worker_threads';
import { startWorker } from '../engine/repository/start-worker.js';
import { openDiskFile, type OpenedFile, type OpenFileRequest } from './disk-file-opener.js';
import type { OpenAnswer, OpenMessage } from './open-worker.js';
import { PlaintextBuffers } from './plaintext-buffers.js';

interface Lane {
  readonly worker: Worker;
  readonly pending: Map<number, { resolve: (outcome: OpenedFile) => void; reject: (err: Error) => void }>;
  /** Plaintext bytes asked for and not answered yet: a new file goes to the least busy lane. */
  load: number;
}

/**
 * Ingest's disk reading on worker threads: each worker reads, authenticates and decrypts whole
 * files (disk-file-opener.ts) while the main thread uploads. Size 0 runs everything on the calling
 * thread (tests). Close it when done, or the workers keep the process alive.
 *
 * Plaintexts are read into memory recycled from earlier files: give each one back with `recycle` once
 * nothing uses it any more (its upload finished), and the next file of about its size reuses it.
 */
export class OpenPool {
  private readonly lanes: Lane[];
  private nextId = 0;
  private failure: Error | undefined;
  private readonly buffers = new PlaintextBuffers();

  constructor(readonly size: number) {
    this.lanes = Array.from({ length: Math.max(0, size) }, () => {
      const lane: Lane = { worker: startWorker('open-worker', import.meta.url, null), pending: new Map(), load: 0 };
      lane.worker.on('message', (answer: OpenAnswer) => this.receive(lane, answer));
      lane.worker.on('error', (err) => this.fail(lane, err));
      lane.worker.on('exit', (code) => this.fail(lane, new Error(`an ingest worker stopped (exit code ${code})`)));
      return lane;
    });
  }

  /** The file's plaintext and SHA-256, or its failure; rejects only when a worker broke (a bug). */
  open(request: OpenFileRequest): Promise<OpenedFile> {
    if (this.failure) return Promise.reject(this.failure);
    const buffer = this.buffers.take(request.entry.size);
    const withBuffer: OpenFileRequest = buffer !== undefined ? { ...request, buffer } : request;
    if (this.lanes.length === 0) return openDiskFile(withBuffer);
    const lane = this.lanes.reduce((best, l) => (l.load < best.load ? l : best));
    const id = this.nextId++;
    const bytes = request.entry.size + 1;
    lane.load += bytes;
    return new Promise<OpenedFile>((resolve, reject) => {
      lane.pending.set(id, {
        resolve: (outcome) => {
          lane.load -= bytes;
          resolve(outcome);
        },
        reject,
      });
      // The buffer is shared memory: posted, not moved (PlaintextBuffers).
      lane.worker.postMessage({ id, request: withBuffer } satisfies OpenMessage);
    });
  }

  /**
   * Gives back the memory of a plaintext `open` answered, for a later file: call it once nothing reads or
   * sends the plaintext any more, and use it no more afterwards. Memory that did not come from `open` is ignored.
   */
  recycle(plaintext: Uint8Array): void {
    this.buffers.give(plaintext.buffer);
  }

  /** Stops the workers; pending requests fail. */
  async close(): Promise<void> {
    this.failure ??= new Error('the ingest worker pool was closed');
    await Promise.all(this.lanes.map((lane) => lane.worker.terminate()));
  }

  private receive(lane: Lane, answer: OpenAnswer): void {
    const pending = lane.pending.get(answer.id);
    if (!pending) return;
    lane.pending.delete(answer.id);
    if ('crash' in answer) pending.reject(new Error(`an ingest worker failed: ${answer.crash}`));
    else pending.resolve(answer.outcome.ok ? { ...answer.outcome, plaintext: Buffer.from(answer.outcome.plaintext.buffer, answer.outcome.plaintext.byteOffset, answer.outcome.plaintext.byteLength) } : answer.outcome);
  }

  private fail(lane: Lane, err: Error): void {
    this.failure ??= err;
    for (const pending of lane.pending.values()) pending.reject(this.failure);
    lane.pending.clear();
  }
}
