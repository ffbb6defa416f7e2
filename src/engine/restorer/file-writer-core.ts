import { closeSync, constants, fchmodSync, fchownSync, fstatSync, ftruncateSync, openSync, write, writeSync } from 'node:fs';
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
  /** The kernel refused an O_DIRECT write of this file: the rest goes through the ordinary descriptor. */
  refused: boolean;
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
  /**
   * Page-aligned staging of O_DIRECT bodies (a file's carry, then its decoded blobs; grown as needed):
   * two, so blobs are decoded into one while the other is being written.
   */
  private readonly stages: (Buffer | undefined)[] = [undefined, undefined];
  private current = 0;
  /** The O_DIRECT write in flight (of the other stage), if any. */
  private pending: { readonly file: OpenFile; readonly stage: Buffer; readonly length: number; readonly position: number; readonly done: Promise<number> } | undefined;
  private chain: Promise<unknown> = Promise.resolve();

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

  /**
   * Does a batch's work, in order after the batches before it. Synchronous but for the O_DIRECT writes,
   * which run on libuv's thread pool while the next blobs are decoded (see flushPages).
   */
  handle(batch: BatchRequest): Promise<BatchReply> {
    const done = this.chain.then(() => this.process(batch));
    this.chain = done.then(
      () => undefined,
      () => undefined,
    );
    return done;
  }

  private async process(batch: BatchRequest): Promise<BatchReply> {
    const finished: FinishedReply[] = [];
    for (const op of batch.ops) {
      if (op.kind === 'open') this.open(op);
      else if (op.kind === 'write') {
        const writing = this.write(op, batch.buffers[op.buffer]!);
        if (writing) await writing;
      } else finished.push(await this.finish(op));
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
      if (made.ino === opened.ino && made.dev === opened.dev) return { fd: direct, start: 0, carry: Buffer.alloc(ALIGN), carried: 0, refused: false };
    } catch {
      // Not used: the file is written through its first descriptor.
    }
    closeSync(direct);
    return undefined;
  }

  private write(request: WriteRequest, buffer: ArrayBuffer): Promise<void> | undefined {
    const file = this.files.get(request.file);
    if (!file || file.fd === undefined || file.error) return undefined;
    if (file.direct) return this.writeDirect(file, request.blobs, buffer);
    for (const blob of request.blobs) if (!this.writeBlob(file, blob, buffer)) return undefined;
    return undefined;
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
      if (end > 0) file.writtenEnd = Math.max(file.writtenEnd, end);
    } catch (err) {
      file.error = toWire(err);
      return false;
    }
    return true;
  }

  /**
   * The O_DIRECT path: the file's carry, then the blobs decoded behind it in the current stage; whole
   * pages go out through the direct descriptor (see flushPages), the rest is the new carry. Blobs come in
   * file order; one that does not continue where the last ended (or a kernel that refused O_DIRECT)
   * sends what is staged through the ordinary descriptor and the file on without O_DIRECT.
   */
  private async writeDirect(file: OpenFile, blobs: readonly BlobWrite[], buffer: ArrayBuffer): Promise<void> {
    const direct = file.direct!;
    let stage = this.stageOf(direct.carried + (blobs[0]?.rawLength ?? 0));
    direct.carry.copy(stage, 0, 0, direct.carried);
    let staged = direct.carried;
    for (let i = 0; i < blobs.length; i++) {
      const blob = blobs[i]!;
      if (stage.length < staged + blob.rawLength && blob.position === direct.start + staged && !direct.refused) {
        staged = await this.flushPages(file, stage, staged);
        if (file.error) return;
        stage = this.stageOf(staged + blob.rawLength, staged);
      }
      if (blob.position !== direct.start + staged || direct.refused) {
        if (!(await this.leaveDirect(file, stage, staged))) return;
        for (const rest of blobs.slice(i)) if (!this.writeBlob(file, rest, buffer)) return;
        return;
      }
      try {
        this.codec.decodeInto(blob.type, blob.id, new Uint8Array(buffer, blob.at, blob.length), blob.compression, blob.rawLength, stage.subarray(staged));
      } catch (err) {
        file.error = { message: err instanceof Error ? err.message : String(err), damagedBlob: blob.id };
        return;
      }
      staged += blob.rawLength;
    }
    staged = await this.flushPages(file, stage, staged);
    if (file.error) return;
    stage = this.stageOf(staged);
    if (direct.refused) {
      await this.leaveDirect(file, stage, staged);
      return;
    }
    stage.copy(direct.carry, 0, 0, staged);
    direct.carried = staged;
  }

  /**
   * Starts writing the whole pages of `stage[0, staged)` (at the direct body's `start`) through the
   * O_DIRECT descriptor, holes for zero pages, once the write before it is done (so one write is in
   * flight while the next blobs are decoded); the remainder moves to the front of the other stage, which
   * becomes the current one. Returns the remainder's length; `staged` unchanged (and nothing written)
   * when the file failed or O_DIRECT was refused.
   */
  private async flushPages(file: OpenFile, stage: Buffer, staged: number): Promise<number> {
    const direct = file.direct!;
    const whole = staged - (staged % ALIGN);
    if (whole === 0) return staged;
    await this.settle();
    if (file.error || direct.refused) return staged;
    const position = direct.start;
    this.pending = { file, stage, length: whole, position, done: writeSkippingZerosAsync(direct.fd, stage.subarray(0, whole), position) };
    this.current ^= 1;
    const next = this.stageOf(staged - whole);
    stage.copy(next, 0, whole, staged);
    direct.start += whole;
    return staged - whole;
  }

  /**
   * Waits for the O_DIRECT write in flight. One the kernel refuses (EINVAL: alignment, or O_DIRECT
   * itself) is done again through the ordinary descriptor, and the restore goes on without O_DIRECT.
   */
  private async settle(): Promise<void> {
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    const { file } = pending;
    try {
      const end = await pending.done;
      if (end > 0) file.writtenEnd = Math.max(file.writtenEnd, end);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL' || file.fd === undefined) {
        file.error ??= toWire(err);
        return;
      }
      this.direct = false;
      if (file.direct) file.direct.refused = true;
      try {
        const end = writeSkippingZeros(file.fd, pending.stage.subarray(0, pending.length), pending.position);
        if (end > 0) file.writtenEnd = Math.max(file.writtenEnd, end);
      } catch (again) {
        file.error ??= toWire(again);
      }
    }
  }

  /**
   * Writes `stage[0, staged)` through the ordinary descriptor at the direct body's `start` and closes the
   * direct descriptor (after its write in flight); false when the file failed.
   */
  private async leaveDirect(file: OpenFile, stage: Buffer, staged: number): Promise<boolean> {
    await this.settle();
    const direct = file.direct!;
    file.direct = undefined;
    try {
      closeSync(direct.fd);
      if (file.error) return false;
      const end = writeSkippingZeros(file.fd!, stage.subarray(0, staged), direct.start);
      if (end > 0) file.writtenEnd = Math.max(file.writtenEnd, end);
      return true;
    } catch (err) {
      file.error ??= toWire(err);
      return false;
    }
  }

  /** The current stage with room for `bytes`, its first `keep` bytes kept when it has to grow. */
  private stageOf(bytes: number, keep = 0): Buffer {
    const stage = this.stages[this.current];
    if (stage && stage.length >= bytes) return stage;
    const pages = Math.ceil(Math.max(bytes, 4 * 1024 * 1024) / WASM_PAGE);
    // A WebAssembly memory is page-aligned (V8 maps it whole); a Buffer's memory need not be.
    const grown = Buffer.from(new WasmMemory({ initial: pages, maximum: pages }).buffer);
    if (stage && keep > 0) stage.copy(grown, 0, 0, keep);
    this.stages[this.current] = grown;
    return grown;
  }

  private async finish(request: FinishRequest): Promise<FinishedReply> {
    const file = this.files.get(request.file);
    this.files.delete(request.file);
    if (!file) return { file: request.file, error: { message: 'file writer: no such file' } };
    let error = file.error;
    let timesError: WireError | undefined;
    const fd = file.fd;
    const direct = file.direct;
    if (direct) {
      // Its last O_DIRECT write may still be in flight: done before the descriptor closes.
      await this.settle();
      error = file.error;
      file.direct = undefined;
      try {
        // The last partial page, through the ordinary descriptor (O_DIRECT writes whole pages only).
        if (!request.abort && !error && direct.carried > 0) {
          const end = writeSkippingZeros(fd!, direct.carry.subarray(0, direct.carried), direct.start);
          if (end > 0) file.writtenEnd = Math.max(file.writtenEnd, end);
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
    return { file: request.file, ...(error ? { error } : {}), ...(timesError && !error ? { timesError } : {}), ...(direct && !direct.refused && !error ? { direct: true } : {}) };
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

/** {@link writeSkippingZeros} with the writes on libuv's thread pool. */
async function writeSkippingZerosAsync(fd: number, data: Buffer, position: number): Promise<number> {
  let runStart = -1;
  let writtenEnd = 0;
  for (let at = 0; at < data.length; at += SPARSE_BLOCK) {
    const end = Math.min(at + SPARSE_BLOCK, data.length);
    const zero = data.compare(ZERO_BLOCK, 0, end - at, at, end) === 0;
    if (!zero && runStart < 0) runStart = at;
    if (zero && runStart >= 0) {
      await writeAllAsync(fd, data, runStart, at, position);
      writtenEnd = position + at;
      runStart = -1;
    }
  }
  if (runStart >= 0) {
    await writeAllAsync(fd, data, runStart, data.length, position);
    writtenEnd = position + data.length;
  }
  return writtenEnd;
}

async function writeAllAsync(fd: number, data: Buffer, from: number, to: number, position: number): Promise<void> {
  for (let at = from; at < to; ) {
    at += await new Promise<number>((resolve, reject) => write(fd, data, at, to - at, position + at, (err, written) => (err ? reject(err) : resolve(written))));
  }
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
