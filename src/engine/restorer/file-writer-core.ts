import { closeSync, constants, fchmodSync, fchownSync, fstatSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { BlobCodec } from '../pack/blob-codec.js';
import { setFileTimesNs } from '../os/posix-extras.js';
import type { BatchReply, BatchRequest, BlobWrite, FinishedReply, FinishRequest, OpenRequest, WireError, WriteRequest } from './file-writer-protocol.js';
import { createFileAtSync, createFileSync, DirectoryInTheWayError } from './restore-target.js';

/** Granularity of hole detection: the usual file system block size. */
const SPARSE_BLOCK = 4096;
const ZERO_BLOCK = Buffer.alloc(SPARSE_BLOCK);

/** Files at least this large get their body written with O_DIRECT when the core writes direct. */
const DIRECT_MIN = 1024 * 1024;
/** O_DIRECT's alignment of file offsets, lengths and memory (a page: at least any logical block size). */
const ALIGN = 4096;
const WASM_PAGE = 64 * 1024;
/** WebAssembly.Memory (the project's TypeScript libraries leave WebAssembly out). */
const WasmMemory = (globalThis as unknown as { WebAssembly: { Memory: new (size: { initial: number; maximum: number }) => { buffer: ArrayBuffer } } }).WebAssembly.Memory;

/** The O_DIRECT side of a file: everything before `start` is written; `carry` holds the next bytes (fewer than ALIGN). */
interface DirectBody {
  readonly fd: number;
  start: number;
  readonly carry: Buffer;
  carried: number;
}

interface OpenFile {
  fd: number | undefined;
  /** Set while the file's body goes through a second, O_DIRECT descriptor (see FileWriterCore). */
  direct: DirectBody | undefined;
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
  /** Page-aligned staging of O_DIRECT bodies: a file's carry, then its decoded blobs (grown as needed). */
  private stage: Buffer | undefined;

  /**
   * `direct`: files of at least {@link DIRECT_MIN} bytes get a second descriptor opened with O_DIRECT,
   * through which their body goes in page-aligned pieces (blobs decoded straight into an aligned stage);
   * the last partial page goes through the ordinary descriptor at finish. No copy into the page cache,
   * the largest part of a restore's system time, but each write waits for the disk. Where O_DIRECT is
   * refused (tmpfs, some network file systems) the core writes as without it from then on.
   */
  constructor(encryptionKey: Uint8Array, private direct = false) {
    this.codec = new BlobCodec(encryptionKey);
    if (constants.O_DIRECT === undefined) this.direct = false;
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
    const file: OpenFile = { fd: undefined, direct: undefined, error: undefined, writtenEnd: 0 };
    this.files.set(request.file, file);
    try {
      file.fd = request.at ? createFileAtSync(request.at.dirFd, request.at.name, request.mode) : createFileSync(request.path, request.mode);
    } catch (err) {
      file.error = toWire(err);
      return;
    }
    if (this.direct && request.size >= DIRECT_MIN) file.direct = this.openDirect(request, file.fd);
  }

  /**
   * A second descriptor of the new file, with O_DIRECT (the first was made with O_EXCL: the second must
   * be the same inode, else it is not used). Undefined when the file system refuses O_DIRECT, which
   * turns direct writing off for the rest of the restore.
   */
  private openDirect(request: OpenRequest, fd: number): DirectBody | undefined {
    const path = request.at ? Buffer.concat([Buffer.from(`/proc/self/fd/${request.at.dirFd}/`), request.at.name]) : Buffer.from(request.path);
    let direct: number;
    try {
      direct = openSync(path, constants.O_WRONLY | constants.O_NOFOLLOW | constants.O_DIRECT);
    } catch {
      this.direct = false;
      return undefined;
    }
    try {
      const made = fstatSync(fd, { bigint: true });
      const opened = fstatSync(direct, { bigint: true });
      if (made.ino === opened.ino && made.dev === opened.dev) return { fd: direct, start: 0, carry: Buffer.alloc(ALIGN), carried: 0 };
    } catch {
      // Not used: the file is written through its first descriptor.
    }
    closeSync(direct);
    return undefined;
  }

  private write(request: WriteRequest, buffer: ArrayBuffer): void {
    const file = this.files.get(request.file);
    if (!file || file.fd === undefined || file.error) return;
    if (file.direct) {
      this.writeDirect(file, request.blobs, buffer);
      return;
    }
    for (const blob of request.blobs) if (!this.writeBlob(file, blob, buffer)) return;
  }

  /** Decodes one blob and writes it through the file's ordinary descriptor; false when that failed. */
  private writeBlob(file: OpenFile, blob: BlobWrite, buffer: ArrayBuffer): boolean {
    if (this.plain.length < blob.rawLength) this.plain = Buffer.allocUnsafeSlow(2 ** Math.ceil(Math.log2(Math.max(blob.rawLength, 64 * 1024))));
    let data: Buffer;
    try {
      data = this.codec.decodeInto(blob.type, blob.id, new Uint8Array(buffer, blob.at, blob.length), blob.compression, blob.rawLength, this.plain);
    } catch (err) {
      file.error = { message: err instanceof Error ? err.message : String(err), damagedBlob: blob.id };
      return false;
    }
    try {
      const end = writeSkippingZeros(file.fd!, data, blob.position);
      if (end > 0) file.writtenEnd = end;
    } catch (err) {
      file.error = toWire(err);
      return false;
    }
    return true;
  }

  /**
   * The O_DIRECT path: the file's carry, then the blobs decoded behind it in the aligned stage; whole
   * pages go out through the direct descriptor, the rest is the new carry. Blobs come in file order; one
   * that does not continue where the last ended (or a direct write the kernel refuses) sends what is
   * staged through the ordinary descriptor and the file on without O_DIRECT.
   */
  private writeDirect(file: OpenFile, blobs: readonly BlobWrite[], buffer: ArrayBuffer): void {
    const direct = file.direct!;
    let stage = this.stageOf(direct.carried + (blobs[0]?.rawLength ?? 0));
    direct.carry.copy(stage, 0, 0, direct.carried);
    let staged = direct.carried;
    for (let i = 0; i < blobs.length; i++) {
      const blob = blobs[i]!;
      if (blob.position !== direct.start + staged) {
        if (!this.leaveDirect(file, stage, staged)) return;
        for (const rest of blobs.slice(i)) if (!this.writeBlob(file, rest, buffer)) return;
        return;
      }
      if (stage.length < staged + blob.rawLength) {
        staged = this.flushPages(file, stage, staged);
        if (staged < 0) return this.continueBuffered(file, blobs.slice(i), buffer);
        stage = this.stageOf(staged + blob.rawLength, staged);
      }
      try {
        this.codec.decodeInto(blob.type, blob.id, new Uint8Array(buffer, blob.at, blob.length), blob.compression, blob.rawLength, stage.subarray(staged));
      } catch (err) {
        file.error = { message: err instanceof Error ? err.message : String(err), damagedBlob: blob.id };
        return;
      }
      staged += blob.rawLength;
    }
    staged = this.flushPages(file, stage, staged);
    if (staged < 0) return;
    stage.copy(direct.carry, 0, 0, staged);
    direct.carried = staged;
  }

  /**
   * Writes the whole pages of `stage[0, staged)` (at the direct body's `start`) through the O_DIRECT
   * descriptor, holes for zero pages, and moves the remainder to the stage's front; returns its length.
   * -1 when the file failed or left O_DIRECT (everything staged then went through the ordinary descriptor).
   */
  private flushPages(file: OpenFile, stage: Buffer, staged: number): number {
    const direct = file.direct!;
    const whole = staged - (staged % ALIGN);
    if (whole === 0) return staged;
    try {
      const end = writeSkippingZeros(direct.fd, stage.subarray(0, whole), direct.start);
      if (end > 0) file.writtenEnd = end;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL') {
        file.error = toWire(err);
        return -1;
      }
      // The kernel refused the alignment or O_DIRECT itself: this file and the later ones without it.
      this.direct = false;
      this.leaveDirect(file, stage, staged);
      return -1;
    }
    stage.copyWithin(0, whole, staged);
    direct.start += whole;
    return staged - whole;
  }

  /** After {@link flushPages} gave up O_DIRECT: the rest of the run through the ordinary descriptor. */
  private continueBuffered(file: OpenFile, blobs: readonly BlobWrite[], buffer: ArrayBuffer): void {
    if (file.error) return;
    for (const blob of blobs) if (!this.writeBlob(file, blob, buffer)) return;
  }

  /** Writes `stage[0, staged)` through the ordinary descriptor and closes the direct one; false when that failed. */
  private leaveDirect(file: OpenFile, stage: Buffer, staged: number): boolean {
    const direct = file.direct!;
    file.direct = undefined;
    try {
      closeSync(direct.fd);
      const end = writeSkippingZeros(file.fd!, stage.subarray(0, staged), direct.start);
      if (end > 0) file.writtenEnd = end;
      return true;
    } catch (err) {
      file.error = toWire(err);
      return false;
    }
  }

  /** The aligned stage with room for `bytes`, its first `keep` bytes kept when it has to grow. */
  private stageOf(bytes: number, keep = 0): Buffer {
    if (this.stage && this.stage.length >= bytes) return this.stage;
    const pages = Math.ceil(Math.max(bytes, 4 * 1024 * 1024) / WASM_PAGE);
    // A WebAssembly memory is page-aligned (V8 maps it whole); a Buffer's memory need not be.
    const grown = Buffer.from(new WasmMemory({ initial: pages, maximum: pages }).buffer);
    if (this.stage && keep > 0) this.stage.copy(grown, 0, 0, keep);
    this.stage = grown;
    return grown;
  }

  private finish(request: FinishRequest): FinishedReply {
    const file = this.files.get(request.file);
    this.files.delete(request.file);
    if (!file) return { file: request.file, error: { message: 'file writer: no such file' } };
    let error = file.error;
    let timesError: WireError | undefined;
    const fd = file.fd;
    const direct = file.direct;
    if (direct) {
      file.direct = undefined;
      try {
        // The last partial page, through the ordinary descriptor (O_DIRECT writes whole pages only).
        if (!request.abort && !error && direct.carried > 0) {
          const end = writeSkippingZeros(fd!, direct.carry.subarray(0, direct.carried), direct.start);
          if (end > 0) file.writtenEnd = end;
        }
      } catch (err) {
        error ??= toWire(err);
      } finally {
        try {
          closeSync(direct.fd);
        } catch (err) {
          error ??= toWire(err);
        }
      }
    }
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
    return { file: request.file, ...(error ? { error } : {}), ...(timesError && !error ? { timesError } : {}), ...(direct && !error ? { direct: true } : {}) };
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
