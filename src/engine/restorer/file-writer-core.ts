import { closeSync, fchmodSync, fchownSync, ftruncateSync, write, writeSync } from 'node:fs';
import { BlobCodec } from '../pack/blob-codec.js';
import { setFileTimesNs } from '../os/posix-extras.js';
import type { BatchReply, BatchRequest, BlobWrite, CreateFile, FinishedReply, FinishRequest, OpenRequest, WireError, WriteRequest } from './file-writer-protocol.js';
import { createFileAtSync, createFileSync, DirectoryInTheWayError } from './restore-target.js';
import { WriteBehindRing, type RingSegment } from './write-behind.js';

/** Granularity of hole detection: the usual file system block size. */
const SPARSE_BLOCK = 4096;
const ZERO_BLOCK = Buffer.alloc(SPARSE_BLOCK);
/**
 * Blobs at least this large are written behind (see FileWriterCore) when a ring is set up; smaller ones
 * synchronously, where the copy costs less than handing it to another thread.
 */
export const WRITE_BEHIND_MIN = 128 * 1024;

interface OpenFile {
  fd: number | undefined;
  /** The first thing that went wrong; later writes are skipped. */
  error: WireError | undefined;
  /** Where the last write ended (0 while everything was zeros). */
  writtenEnd: number;
  /** Writes behind still running. */
  pending: number;
  /** The completion, held until the writes behind are done. */
  finish: FinishRequest | undefined;
}

/**
 * What a file writer does with each batch (see file-writer-protocol.ts), with synchronous system calls:
 * on a worker thread (file-writer-worker.ts), or on the calling thread when a restore runs without
 * workers. Batches are handled in order; each one's reply hands its buffers back, whatever happened to
 * the files, as soon as its blobs are decoded.
 *
 * With a write-behind ring (`writeBehind` bytes), a blob of at least {@link WRITE_BEHIND_MIN} bytes is
 * decoded into the ring and written by libuv's thread pool while the next ones are decoded: the
 * kernel's copy into the page cache, about half of a writer's time, runs on the other core. A file is
 * completed (and its reply sent) once its writes are done. Without one, every write is synchronous.
 */
export class FileWriterCore {
  private readonly codec: BlobCodec;
  private readonly files = new Map<number, OpenFile>();
  /** Decoded blobs written synchronously, reused from blob to blob (grown to the largest). */
  private plain: Buffer = Buffer.alloc(0);
  private readonly ring: WriteBehindRing | undefined;
  private readonly queue: BatchRequest[] = [];
  private running = false;
  /** Replies of the files completed since the last reply went out. */
  private finished: FinishedReply[] = [];
  private finishedScheduled = false;

  constructor(
    encryptionKey: Uint8Array,
    private readonly reply: (reply: BatchReply) => void,
    writeBehind = 0,
  ) {
    this.codec = new BlobCodec(encryptionKey);
    this.ring = writeBehind >= WRITE_BEHIND_MIN ? new WriteBehindRing(writeBehind) : undefined;
  }

  /** Handles `batch` after the ones before it; its reply goes to the constructor's `reply`. */
  submit(batch: BatchRequest): void {
    this.queue.push(batch);
    if (!this.running) this.drain();
  }

  /** Handles queued batches until one must wait for room in the ring (then it resumes from there). */
  private drain(): void {
    this.running = true;
    while (this.queue.length > 0) {
      const batch = this.queue[0]!;
      const wait = this.handle(batch);
      if (wait) {
        void wait.then(() => this.drain());
        return;
      }
      this.queue.shift();
      const finished = this.finished;
      this.finished = [];
      this.reply({ buffers: batch.buffers, finished });
    }
    this.running = false;
  }

  /** Runs the batch's ops from where it stopped; a promise when it must wait for room in the ring. */
  private handle(batch: BatchRequest & { next?: number; blob?: number }): Promise<void> | undefined {
    const ops = batch.ops;
    for (let i = batch.next ?? 0; i < ops.length; i++) {
      const op = ops[i]!;
      if (op.kind === 'open') this.open(op);
      else if (op.kind === 'finish') this.finish(op);
      else {
        const from = batch.blob ?? 0;
        batch.blob = undefined;
        const stopped = this.write(op, batch.buffers[op.buffer]!, from);
        if (stopped !== undefined) {
          batch.next = i;
          batch.blob = stopped;
          return this.ring!.roomFreed();
        }
      }
    }
    return undefined;
  }

  private open(request: OpenRequest): void {
    const file: OpenFile = { fd: undefined, error: undefined, writtenEnd: 0, pending: 0, finish: undefined };
    this.files.set(request.file, file);
    if ('fd' in request) {
      file.fd = request.fd;
      return;
    }
    if ('error' in request) {
      file.error = request.error;
      return;
    }
    try {
      file.fd = createFile(request);
    } catch (err) {
      file.error = toWire(err);
    }
  }

  /** Writes the request's blobs from `from` on; returns the blob to resume at when the ring has no room. */
  private write(request: WriteRequest, buffer: ArrayBuffer, from: number): number | undefined {
    const file = this.files.get(request.file);
    if (!file || file.fd === undefined || file.error) return undefined;
    for (let b = from; b < request.blobs.length; b++) {
      const blob = request.blobs[b]!;
      let segment: RingSegment | undefined;
      let target: Buffer;
      if (this.ring && blob.rawLength >= WRITE_BEHIND_MIN && blob.rawLength <= this.ring.size) {
        segment = this.ring.take(blob.rawLength);
        if (!segment) return b;
        target = this.ring.bytes.subarray(segment.start, segment.end);
      } else {
        if (this.plain.length < blob.rawLength) this.plain = Buffer.allocUnsafeSlow(2 ** Math.ceil(Math.log2(Math.max(blob.rawLength, 64 * 1024))));
        target = this.plain;
      }
      let data: Buffer;
      try {
        data = this.codec.decodeInto(blob.type, blob.id, new Uint8Array(buffer, blob.at, blob.length), blob.compression, blob.rawLength, target);
      } catch (err) {
        if (segment) this.ring!.release(segment);
        file.error = { message: err instanceof Error ? err.message : String(err), damagedBlob: blob.id };
        return undefined;
      }
      try {
        const end = segment ? this.writeBehind(file, segment, data, blob) : writeSkippingZeros(file.fd, data, blob.position);
        if (end > 0) file.writtenEnd = end;
      } catch (err) {
        file.error = toWire(err);
        return undefined;
      }
    }
    return undefined;
  }

  /** Starts the writes of `data` (zero blocks skipped) on the thread pool; returns where the last one ends. */
  private writeBehind(file: OpenFile, segment: RingSegment, data: Buffer, blob: BlobWrite): number {
    const end = forEachDataRun(data, (from, to) => {
      segment.refs++;
      file.pending++;
      this.writeOut(file, segment, data, from, to, blob.position);
    });
    this.ring!.release(segment);
    return end > 0 ? blob.position + end : 0;
  }

  private writeOut(file: OpenFile, segment: RingSegment, data: Buffer, from: number, to: number, position: number): void {
    write(file.fd!, data, from, to - from, position + from, (err, written) => {
      if (!err && from + written < to) {
        this.writeOut(file, segment, data, from + written, to, position);
        return;
      }
      if (err) file.error ??= toWire(err);
      this.ring!.release(segment);
      if (--file.pending === 0 && file.finish) this.completeLate(file, file.finish);
    });
  }

  private finish(request: FinishRequest): void {
    const file = this.files.get(request.file);
    if (!file) {
      this.finished.push({ file: request.file, error: { message: 'file writer: no such file' } });
      return;
    }
    if (file.pending > 0) {
      file.finish = request;
      return;
    }
    this.files.delete(request.file);
    this.finished.push(complete(file, request));
  }

  /** Completes a file whose last write behind just ended; its reply goes with the next batch's, or alone. */
  private completeLate(file: OpenFile, request: FinishRequest): void {
    this.files.delete(request.file);
    this.finished.push(complete(file, request));
    if (this.running || this.finishedScheduled) return;
    this.finishedScheduled = true;
    setImmediate(() => {
      this.finishedScheduled = false;
      if (this.running || this.finished.length === 0) return;
      const finished = this.finished;
      this.finished = [];
      this.reply({ buffers: [], finished });
    });
  }
}

/** Creates the file an open request names (see OpenRequest). */
export function createFile(request: CreateFile): number {
  return request.at ? createFileAtSync(request.at.dirFd, request.at.name, request.mode) : createFileSync(request.path, request.mode);
}

/** Completes a file: a trailing hole, owner, mode, times, close (see FinishRequest). */
function complete(file: OpenFile, request: FinishRequest): FinishedReply {
  let error = file.error;
  let timesError: WireError | undefined;
  const fd = file.fd;
  if (fd !== undefined) {
    try {
      if (!request.abort && !error) {
        // Only a trailing hole leaves the file shorter than its content.
        if (file.writtenEnd < request.size) ftruncateSync(fd, request.size);
        // Owner first: fchown clears the setuid and setgid bits, which fchmod then sets.
        if (request.owner) fchownSync(fd, request.owner.uid, request.owner.gid);
        if (request.mode !== undefined) fchmodSync(fd, request.mode);
        // Times last, on the open file (no path to resolve): nothing after this changes the mtime.
        if (request.mtimeNs !== undefined) {
          try {
            setFileTimesNs(fd, request.mtimeNs, request.mtimeNs);
          } catch (err) {
            timesError = toWire(err);
          }
        }
      }
    } catch (err) {
      error = toWire(err);
    } finally {
      try {
        closeSync(fd);
      } catch (err) {
        error ??= toWire(err);
      }
    }
  }
  return { file: request.file, ...(error ? { error } : {}), ...(timesError && !error ? { timesError } : {}) };
}

/**
 * Calls `write(from, to)` for each run of `data` that is not all-zero blocks, which stay holes in the new
 * file: sparse files come back sparse, and the content reads the same either way. Returns the file offset
 * where the last run ends (0 when everything was zeros), counting from `data`'s start.
 */
function forEachDataRun(data: Buffer, write: (from: number, to: number) => void): number {
  let runStart = -1;
  let writtenEnd = 0;
  for (let at = 0; at < data.length; at += SPARSE_BLOCK) {
    const end = Math.min(at + SPARSE_BLOCK, data.length);
    const zero = data.compare(ZERO_BLOCK, 0, end - at, at, end) === 0;
    if (!zero && runStart < 0) runStart = at;
    if (zero && runStart >= 0) {
      write(runStart, at);
      writtenEnd = at;
      runStart = -1;
    }
  }
  if (runStart >= 0) {
    write(runStart, data.length);
    writtenEnd = data.length;
  }
  return writtenEnd;
}

/** Writes `data` at `position`, leaving holes for its zero blocks; returns where the last write ended (0: none). */
function writeSkippingZeros(fd: number, data: Buffer, position: number): number {
  const end = forEachDataRun(data, (from, to) => writeAll(fd, data, from, to, position));
  return end > 0 ? position + end : 0;
}

function writeAll(fd: number, data: Buffer, from: number, to: number, position: number): void {
  for (let at = from; at < to; ) at += writeSync(fd, data, at, to - at, position + at);
}

export function toWire(err: unknown): WireError {
  if (err instanceof DirectoryInTheWayError) return { message: err.message, inTheWay: true };
  if (!(err instanceof Error)) return { message: String(err) };
  const { code, errno, syscall } = err as NodeJS.ErrnoException;
  return {
    message: err.message,
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof errno === 'number' ? { errno } : {}),
    ...(typeof syscall === 'string' ? { syscall } : {}),
  };
}
