import type { Worker } from 'node:worker_threads';
import type { Id } from '../../core/ids.js';
import { startWorker } from '../repository/start-worker.js';
import { closeSync } from 'node:fs';
import { createFile, FileWriterCore, toWire } from './file-writer-core.js';
import type { BatchReply, BatchRequest, BlobWrite, FileWriterOp, FileWriterSetup, FinishedReply, FinishRequest, OpenRequest } from './file-writer-protocol.js';

/** The most sealed bytes read at once: runs of several files that lie next to each other in a pack are merged up to this. */
export const MAX_READ = 4 * 1024 * 1024;
/**
 * A writer thread's young generation, in MiB (Node's default grows to 16), as the encoder workers': a writer
 * allocates little JS per batch. Two writers, scale-1 restore, quiet, alternating: peak RSS 151–158 MiB
 * against 158–160, the same time and CPU.
 */
const WRITER_YOUNG_GENERATION_MB = 2;
/** Read buffers below this size are rounded up to it, so one serves many blobs. */
const MIN_BUFFER = 256 * 1024;

/** Reads `length` sealed bytes of a pack from `offset` into `target` (see BlobReader.readSealedInto). */
export type SealedRead = (packId: Id, offset: number, length: number, target: Buffer, firstBlob: { type: 'data'; id: Id }) => Promise<void>;

/** Blobs of one file that lie next to each other in one pack; `at` of each blob counts from `offset`. */
export interface Run {
  readonly packId: Id;
  readonly offset: number;
  readonly length: number;
  readonly blobs: readonly BlobWrite[];
}

interface QueuedRun {
  readonly file: WriterFile;
  readonly run: Run;
  readonly done: { resolve(): void; reject(err: unknown): void };
}

type Queued = { readonly op: FileWriterOp } | QueuedRun;

interface Lane {
  readonly send: (batch: BatchRequest) => void;
  readonly worker: Worker | undefined;
  /** Files open on this lane. */
  files: number;
  queue: Queued[];
  scheduled: boolean;
  /** Settles once the lane's last batch was sent (batches go out in order). */
  sent: Promise<void>;
}

/** A file being restored through {@link FileWriters}: the lane that owns it, and its id there. */
export interface WriterFile {
  readonly id: number;
  readonly lane: Lane;
}

/**
 * The file writers of a restore: `workers` threads (or, with none, the calling thread) that decode
 * sealed blobs and write them into the restored files with synchronous system calls (see
 * FileWriterCore). With `startWorkersAfter` bytes, the calling thread writes until that many were
 * queued and the threads start only then: a small restore (one file, a folder) is done before a
 * thread would have loaded its modules; files opened before keep their lane. Callers queue a file's
 * opening, its runs of blobs and its completion; once per turn of the event loop each lane's queue goes
 * out as one batch, its runs read first, those that follow each other in a pack (usually small files
 * backed up together) with one read. At most `budget` bytes of read buffers are out at a time, so memory
 * stays bounded however fast the reads are. A file's work all goes to one lane, in order.
 */
export class FileWriters {
  private lanes: Lane[];
  /** Lanes that get new files: all of them, or the workers' once they started later. */
  private opening: Lane[];
  /** Workers not yet started, and the queued bytes that start them. */
  private deferred: { readonly workers: number; readonly after: number; queued: number } | undefined;
  private readonly setup: FileWriterSetup;
  private readonly finishing = new Map<number, (reply: FinishedReply) => void>();
  private readonly free = new Map<number, ArrayBuffer[]>();
  private readonly waiting: { size: number; resolve: () => void }[] = [];
  private seq = 0;
  private readonly createOnMain: boolean;
  /** Bytes of buffers taken and not yet back. */
  private out = 0;
  private idle = 0;
  private failure: Error | undefined;

  constructor(
    setup: FileWriterSetup,
    workers: number,
    private readonly read: SealedRead,
    private readonly budget = 16 * 1024 * 1024,
    startWorkersAfter = 0,
  ) {
    this.setup = setup;
    this.createOnMain = setup.createOnMain ?? false;
    if (workers >= 1 && startWorkersAfter <= 0) {
      this.lanes = this.startWorkers(workers);
    } else {
      const core = new FileWriterCore(setup.encryptionKey, (reply) => this.receive(reply), setup.writeBehind);
      this.lanes = [newLane((batch) => core.submit(batch), undefined)];
      if (workers >= 1) this.deferred = { workers, after: startWorkersAfter, queued: 0 };
    }
    this.opening = this.lanes;
  }

  /** Whether the writer threads run (false while the calling thread writes alone). */
  get threaded(): boolean {
    return this.lanes.some((lane) => lane.worker !== undefined);
  }

  private startWorkers(count: number): Lane[] {
    return Array.from({ length: count }, () => {
      const worker = startWorker('file-writer-worker', import.meta.url, this.setup, { trackUnmanagedFds: false, resourceLimits: { maxYoungGenerationSizeMb: WRITER_YOUNG_GENERATION_MB } });
      worker.unref();
      worker.on('message', (reply: BatchReply) => this.receive(reply));
      worker.on('error', (err) => this.fail(err));
      worker.on('exit', () => this.fail(new Error('file writer worker exited')));
      return newLane((batch) => worker.postMessage(batch, batch.buffers), worker);
    });
  }

  /**
   * Starts restoring a new file at `path`, or as `at.name` in the open directory `at.dirFd` (which must
   * stay open until the file is finished; see OpenRequest); a failure to create it shows in {@link finish}.
   */
  open(path: Buffer, mode: number, at?: { dirFd: number; name: Buffer }): WriterFile {
    const lane = this.opening.reduce((best, l) => (l.files < best.files ? l : best));
    const file: WriterFile = { id: this.seq++, lane };
    if (lane.files++ === 0) lane.worker?.ref();
    if (this.createOnMain) {
      let op: OpenRequest;
      try {
        op = { kind: 'open', file: file.id, fd: createFile({ path, at, mode }) };
      } catch (err) {
        op = { kind: 'open', file: file.id, error: toWire(err) };
      }
      this.enqueue(lane, { op });
      return file;
    }
    // A copy of just the path: a Buffer is often a view of a larger shared slab, which would be cloned whole.
    const op = at ? { kind: 'open' as const, file: file.id, path: new Uint8Array(path), at: { dirFd: at.dirFd, name: new Uint8Array(at.name) }, mode } : { kind: 'open' as const, file: file.id, path: new Uint8Array(path), mode };
    this.enqueue(lane, { op });
    return file;
  }

  /**
   * Queues a run of the file's blobs: read with the lane's next batch, then decoded and written. Resolves
   * once it was read and sent (so a caller queues the next run only then), rejects when the read failed.
   */
  write(file: WriterFile, run: Run): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.deferred && (this.deferred.queued += run.length) >= this.deferred.after) {
      const workers = this.startWorkers(this.deferred.workers);
      this.deferred = undefined;
      this.lanes = [...this.lanes, ...workers];
      this.opening = workers;
    }
    return new Promise<void>((resolve, reject) => this.enqueue(file.lane, { file, run, done: { resolve, reject } }));
  }

  /** Completes the file (see FinishRequest); resolves once the writer is done with it. */
  finish(file: WriterFile, request: Omit<FinishRequest, 'kind' | 'file'>): Promise<FinishedReply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<FinishedReply>((resolve) => {
      this.finishing.set(file.id, (reply) => {
        if (--file.lane.files === 0) file.lane.worker?.unref();
        resolve(reply);
      });
      this.enqueue(file.lane, { op: { kind: 'finish', file: file.id, ...request } });
    });
  }

  async close(): Promise<void> {
    this.failure ??= new Error('file writers closed');
    this.wake();
    await Promise.all(this.lanes.flatMap((lane) => (lane.worker ? [lane.worker.terminate()] : [])));
  }

  private enqueue(lane: Lane, item: Queued): void {
    lane.queue.push(item);
    this.schedule(lane);
  }

  /** Sends the lane's queue as a batch on the next turn, after the other files' work of this turn is queued too. */
  private schedule(lane: Lane): void {
    if (lane.scheduled) return;
    lane.scheduled = true;
    setImmediate(() => {
      lane.scheduled = false;
      const items = this.nextBatch(lane);
      if (lane.queue.length > 0) this.schedule(lane);
      const batch = this.prepare(items);
      lane.sent = Promise.all([lane.sent, batch]).then(([, ready]) => {
        if (this.failure) {
          for (const buffer of ready.buffers) this.release(buffer);
          // Files the main thread created for a writer that will never see them.
          for (const op of ready.ops) if (op.kind === 'open' && 'fd' in op) closeSync(op.fd);
          return;
        }
        lane.send(ready);
      });
      lane.sent.catch((err: unknown) => this.fail(err instanceof Error ? err : new Error(String(err))));
    });
  }

  /**
   * The lane's queued work up to as many runs as the buffer budget holds at once (a batch's buffers all
   * come back together, so one that needed more would wait for itself); the rest waits for the next.
   */
  private nextBatch(lane: Lane): Queued[] {
    let bytes = 0;
    let cut = lane.queue.length;
    for (let i = 0; i < lane.queue.length; i++) {
      const item = lane.queue[i]!;
      if (!('run' in item)) continue;
      // A bound on the buffer a run can need, merged or not (sizes are rounded up to powers of two).
      bytes += 2 * item.run.length + MIN_BUFFER;
      if (bytes > this.budget && i > 0) {
        cut = i;
        break;
      }
    }
    return lane.queue.splice(0, cut);
  }

  /** Reads the queued runs (merging those that follow each other in a pack) and lays out the batch. */
  private async prepare(items: readonly Queued[]): Promise<BatchRequest> {
    const runs = items.filter((item): item is QueuedRun => 'run' in item);
    const groups = mergeRuns(runs);
    const buffers: ArrayBuffer[] = [];
    const placed = new Map<QueuedRun, { buffer: number; at: number }>();
    await Promise.all(
      groups.map(async (group) => {
        const first = group[0]!.run;
        const last = group[group.length - 1]!.run;
        const length = last.offset + last.length - first.offset;
        let buffer: Buffer;
        try {
          buffer = await this.take(length);
        } catch (err) {
          for (const item of group) item.done.reject(err);
          return;
        }
        let read = group;
        try {
          await this.read(first.packId, first.offset, length, buffer, { type: 'data', id: first.blobs[0]!.id });
        } catch (err) {
          // Run by run instead: each file gets the error of its own blobs, and runs that read are written.
          read = [];
          for (const item of group) {
            const { packId, offset, length: runLength, blobs } = item.run;
            try {
              await this.read(packId, offset, runLength, buffer.subarray(offset - first.offset), { type: 'data', id: blobs[0]!.id });
              read.push(item);
            } catch (own) {
              item.done.reject(group.length === 1 ? err : own);
            }
          }
          if (read.length === 0) {
            this.release(buffer.buffer as ArrayBuffer);
            return;
          }
        }
        const index = buffers.push(buffer.buffer as ArrayBuffer) - 1;
        for (const item of read) placed.set(item, { buffer: index, at: item.run.offset - first.offset });
      }),
    );
    const ops: FileWriterOp[] = [];
    for (const item of items) {
      if ('op' in item) {
        ops.push(item.op);
        continue;
      }
      const where = placed.get(item);
      if (!where) continue;
      ops.push({ kind: 'write', file: item.file.id, buffer: where.buffer, blobs: item.run.blobs.map((blob) => ({ ...blob, at: blob.at + where.at })) });
      item.done.resolve();
    }
    return { buffers, ops };
  }

  /**
   * A buffer of at least `bytes` (content undefined); waits while the budget is out. Served in order:
   * a later batch never takes the room an earlier one waits for (the earlier one is sent first, and the
   * later one's buffers would only come back after it: a deadlock).
   */
  private async take(bytes: number): Promise<Buffer> {
    const size = Math.max(MIN_BUFFER, 2 ** Math.ceil(Math.log2(bytes)));
    if (this.waiting.length === 0 && (this.out === 0 || this.out + size <= this.budget)) this.out += size;
    // wake() counts the size in `out` when it lets this taker through.
    else await new Promise<void>((resolve) => this.waiting.push({ size, resolve }));
    if (this.failure) throw this.failure;
    const reused = this.free.get(size)?.pop();
    if (reused) {
      this.idle -= size;
      return Buffer.from(reused);
    }
    return Buffer.allocUnsafeSlow(size);
  }

  private receive(reply: BatchReply): void {
    for (const buffer of reply.buffers) this.release(buffer);
    for (const finished of reply.finished) {
      const done = this.finishing.get(finished.file);
      this.finishing.delete(finished.file);
      done?.(finished);
    }
  }

  private release(buffer: ArrayBuffer): void {
    const size = buffer.byteLength;
    this.out -= size;
    if (this.idle + size <= this.budget) {
      let list = this.free.get(size);
      if (!list) this.free.set(size, (list = []));
      list.push(buffer);
      this.idle += size;
    }
    this.wake();
  }

  /** Lets the waiting takers through, in order, while they fit (all of them once the writers failed). */
  private wake(): void {
    while (this.waiting.length > 0) {
      const next = this.waiting[0]!;
      // A buffer larger than the budget goes when no other is out.
      if (!this.failure && this.out > 0 && this.out + next.size > this.budget) return;
      this.waiting.shift();
      this.out += next.size;
      next.resolve();
    }
  }

  /** A writer that failed or exited fails every file in progress and every later call. */
  private fail(err: Error): void {
    this.failure ??= err;
    const error = { message: `file writer: ${err.message}` };
    for (const [file, done] of this.finishing) done({ file, error });
    this.finishing.clear();
    this.wake();
  }
}

function newLane(send: (batch: BatchRequest) => void, worker: Worker | undefined): Lane {
  return { send, worker, files: 0, queue: [], scheduled: false, sent: Promise.resolve() };
}

/**
 * Groups runs that can be read at once: same pack, each starting where the previous ended, at most
 * {@link MAX_READ} bytes together (a larger single run is a group of its own).
 */
function mergeRuns(runs: readonly QueuedRun[]): QueuedRun[][] {
  const sorted = [...runs].sort((a, b) => (a.run.packId < b.run.packId ? -1 : a.run.packId > b.run.packId ? 1 : a.run.offset - b.run.offset));
  const groups: QueuedRun[][] = [];
  let group: QueuedRun[] = [];
  let start = 0;
  let end = 0;
  for (const item of sorted) {
    const { packId, offset, length } = item.run;
    const previous = group[group.length - 1];
    if (previous && previous.run.packId === packId && offset === end && offset + length - start <= MAX_READ) {
      group.push(item);
      end = offset + length;
      continue;
    }
    if (group.length > 0) groups.push(group);
    group = [item];
    start = offset;
    end = offset + length;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}
