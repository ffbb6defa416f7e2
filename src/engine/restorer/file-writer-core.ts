import { closeSync, fchmodSync, fchownSync, ftruncateSync, writeSync } from 'node:fs';
import { BlobCodec } from '../pack/blob-codec.js';
import { setFileTimesNs } from '../os/posix-extras.js';
import type { BatchReply, BatchRequest, FinishedReply, FinishRequest, OpenRequest, WireError, WriteRequest } from './file-writer-protocol.js';
import { createFileAtSync, createFileSync, DirectoryInTheWayError } from './restore-target.js';

/** Granularity of hole detection: the usual file system block size. */
const SPARSE_BLOCK = 4096;
const ZERO_BLOCK = Buffer.alloc(SPARSE_BLOCK);

interface OpenFile {
  fd: number | undefined;
  /** The first thing that went wrong; later writes are skipped. */
  error: WireError | undefined;
  /** Where the last write ended (0 while everything was zeros). */
  writtenEnd: number;
}

/**
 * What a file writer does with each batch (see file-writer-protocol.ts), with synchronous system calls:
 * on a worker thread (file-writer-worker.ts), or on the calling thread when a restore runs without
 * workers. The reply hands every buffer back, whatever happened to the files.
 */
export class FileWriterCore {
  private readonly codec: BlobCodec;
  private readonly files = new Map<number, OpenFile>();
  /** Decoded blobs, reused from blob to blob (grown to the largest). */
  private plain: Buffer = Buffer.alloc(0);

  constructor(encryptionKey: Uint8Array) {
    this.codec = new BlobCodec(encryptionKey);
  }

  handle(batch: BatchRequest): BatchReply {
    const finished: FinishedReply[] = [];
    for (const op of batch.ops) {
      if (op.kind === 'open') this.open(op);
      else if (op.kind === 'write') this.write(op, batch.buffers[op.buffer]!);
      else finished.push(this.finish(op));
    }
    return { buffers: batch.buffers, finished };
  }

  private open(request: OpenRequest): void {
    const file: OpenFile = { fd: undefined, error: undefined, writtenEnd: 0 };
    this.files.set(request.file, file);
    try {
      file.fd = request.at ? createFileAtSync(request.at.dirFd, request.at.name, request.mode) : createFileSync(request.path, request.mode);
    } catch (err) {
      file.error = toWire(err);
    }
  }

  private write(request: WriteRequest, buffer: ArrayBuffer): void {
    const file = this.files.get(request.file);
    if (!file || file.fd === undefined || file.error) return;
    for (const blob of request.blobs) {
      if (this.plain.length < blob.rawLength) this.plain = Buffer.allocUnsafeSlow(2 ** Math.ceil(Math.log2(Math.max(blob.rawLength, 64 * 1024))));
      let data: Buffer;
      try {
        data = this.codec.decodeInto(blob.type, blob.id, new Uint8Array(buffer, blob.at, blob.length), blob.compression, blob.rawLength, this.plain);
      } catch (err) {
        file.error = { message: err instanceof Error ? err.message : String(err), damagedBlob: blob.id };
        return;
      }
      try {
        const end = writeSkippingZeros(file.fd, data, blob.position);
        if (end > 0) file.writtenEnd = end;
      } catch (err) {
        file.error = toWire(err);
        return;
      }
    }
  }

  private finish(request: FinishRequest): FinishedReply {
    const file = this.files.get(request.file);
    this.files.delete(request.file);
    if (!file) return { file: request.file, error: { message: 'file writer: no such file' } };
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
}

/**
 * Writes `data` at `position` but skips all-zero blocks, which stay holes in the new file: sparse files
 * come back sparse, and the content reads the same either way. Returns the file offset where the last
 * write ended (0 when everything was zeros).
 */
function writeSkippingZeros(fd: number, data: Buffer, position: number): number {
  let runStart = -1;
  let writtenEnd = 0;
  for (let at = 0; at < data.length; at += SPARSE_BLOCK) {
    const end = Math.min(at + SPARSE_BLOCK, data.length);
    const zero = data.compare(ZERO_BLOCK, 0, end - at, at, end) === 0;
    if (!zero && runStart < 0) runStart = at;
    if (zero && runStart >= 0) {
      writeAll(fd, data, runStart, at, position);
      writtenEnd = position + at;
      runStart = -1;
    }
  }
  if (runStart >= 0) {
    writeAll(fd, data, runStart, data.length, position);
    writtenEnd = position + data.length;
  }
  return writtenEnd;
}

function writeAll(fd: number, data: Buffer, from: number, to: number, position: number): void {
  for (let at = from; at < to; ) at += writeSync(fd, data, at, to - at, position + at);
}

function toWire(err: unknown): WireError {
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
