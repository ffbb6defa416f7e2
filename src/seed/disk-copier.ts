import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { IntegrityError, InterruptedError, isErrno, NotFoundError, withContext } from '../core/errors.js';
import type { Failpoints } from '../core/failpoints.js';
import type { RandomSource } from '../core/random.js';
import { alignedView, allocateAligned, DIRECT_ALIGN } from '../os/direct-write.js';
import type { Storage } from '../storage/storage.js';
import { DiskFileWriter } from './disk-file-writer.js';
import { diskFileName, encryptedSize, FILE_ID_BYTES, fileHeader, isEncryptedSegment, TAG_BYTES } from './disk-format.js';
import type { PlannedFile, TransferProgress } from './disk-types.js';
import type { ManifestEntry } from './manifest.js';
import { mapOrdered } from './ordered-map.js';
import { readAhead } from './read-ahead.js';
import type { SealReply } from './crypto-protocol.js';
import type { CryptoPool } from './crypto-pool.js';

/** A file written to a disk and fsynced: its manifest entry and its size on the disk. */
export interface CopiedFile extends ManifestEntry {
  readonly diskBytes: number;
}

export interface DiskCopyOptions {
  readonly source: Storage;
  /** The disk's root folder. */
  readonly disk: string;
  readonly diskId: string;
  /** The file subkey of the disk key. */
  readonly fileKey: Uint8Array;
  /** Where the segments are sealed and hashed. */
  readonly pool: CryptoPool;
  readonly segmentSize: number;
  /** The first file number to give (numbers are never reused on a disk). */
  readonly firstNumber: number;
  /** File ids (hex) already used on this disk; the copier adds the ones it draws. */
  readonly usedFileIds: Set<string>;
  readonly random: RandomSource;
  readonly progress: TransferProgress;
  readonly signal?: AbortSignal;
  /**
   * Called in file order once a file is complete and fsynced on the disk; the caller persists it
   * (the journal) before resolving. A rejection stops the copy.
   */
  readonly onCopied: (file: CopiedFile) => Promise<void>;
  /** A staging file that no longer exists (removed since it was listed): skipped. */
  readonly onVanished?: (path: string) => void;
  /** Bytes per staging read (a multiple of the segment size). */
  readonly readBytes?: number;
  /** Hit `diskprep-segments-written` after each batch of segments is written (crash tests). */
  readonly failpoints?: Failpoints;
}

export interface DiskCopyResult {
  readonly copied: CopiedFile[];
  readonly vanished: string[];
  /** True when the disk ran out of space; `notCopied` then lists the files that must go elsewhere. */
  readonly full: boolean;
  readonly notCopied: PlannedFile[];
  readonly nextNumber: number;
}

/** Runs of segments read and sealed ahead of the writer, per crypto worker (and one more). */
const WINDOW_PER_WORKER = 2;
const READ_DEPTH = 2;
/**
 * Bytes per staging read: two segments. Larger reads held more memory in flight (runs of 8 MiB: ~60 MiB
 * of read buffers, each faulted in once) and left each run's bytes out of the cache by the time they were
 * hashed, tagged and written: 8 MiB cost diskprep ~20 % more CPU than 2 MiB (docs/PERFORMANCE.md).
 */
const DEFAULT_READ_BYTES = 2 * 1024 * 1024;
/**
 * Files whose fsync may be outstanding while the next ones are written (open handles, no memory): an
 * fsync that waits for the device or a journal commit does not stall the copy.
 */
const SYNCS_IN_FLIGHT = 16;

interface FileJob {
  /** Names the file's hash state in the crypto pool. */
  readonly token: number;
  readonly path: string;
  readonly size: number;
  readonly fileId: Buffer;
  vanished: boolean;
}

/** A run of consecutive segments of a file as read from staging (at most `readBytes`), or a vanished file. */
type Item =
  | { readonly kind: 'run'; readonly file: FileJob; readonly first: number; readonly data: Buffer /* a view of a pooled read buffer */ }
  | { readonly kind: 'vanished'; readonly file: FileJob };

interface Sealed {
  readonly item: Item;
  readonly bytes: number;
  readonly reply?: SealReply;
}

interface OpenFile {
  readonly job: FileJob;
  readonly n: number;
  readonly path: string;
  readonly handle: FileHandle;
}

/**
 * Copies `files` from the staging storage onto a disk, in order, each as a disk file
 * (docs/disk-format.md, section 5), and reports each one through `onCopied` once it is durable.
 *
 * The work overlaps: staging reads run ahead, runs of segments are hashed and protected (tagged, the tail encrypted) on the crypto
 * pool's workers, and the main thread writes them in order (past the page cache, disk-file-writer.ts) while earlier files are fsynced. Each file's SHA-256 is checked
 * against its name (staging objects are named by it): a mismatch is an `IntegrityError` (staging is
 * damaged). A file that vanished from staging is skipped. When the disk is full (ENOSPC, EDQUOT) the
 * partial file is removed and the copy stops with `full`; files already reported stay valid.
 * On an abort it stops with `InterruptedError` after the files already written are reported.
 */
export async function copyToDisk(files: readonly PlannedFile[], options: DiskCopyOptions): Promise<DiskCopyResult> {
  const readBytes = options.readBytes ?? Math.max(options.segmentSize, Math.floor(DEFAULT_READ_BYTES / options.segmentSize) * options.segmentSize);
  if (readBytes % options.segmentSize !== 0) throw new RangeError('readBytes must be a multiple of the segment size');
  const jobs = files.map((file, i): FileJob => ({
    token: i,
    path: file.path,
    size: file.size,
    fileId: freshFileId(options),
    vanished: false,
  }));
  const copied: CopiedFile[] = [];
  const vanished: string[] = [];
  const folders = new Set<string>();
  const syncs: Promise<void>[] = [];
  let nextNumber = options.firstNumber;
  let current: OpenFile | undefined;
  const buffers = new ReadBuffers(readBytes);
  const writer = new DiskFileWriter();

  const seal = async (item: Item): Promise<Sealed> => {
    if (item.kind === 'vanished') return { item, bytes: 0 };
    const { file, first, data } = item;
    // The data may move to a worker: its length is taken first.
    const bytes = data.length;
    const reply = await options.pool.seal({
      file: file.token,
      fileKey: options.fileKey,
      diskId: options.diskId,
      path: file.path,
      fileId: file.fileId,
      first,
      size: file.size,
      segmentSize: options.segmentSize,
      data,
    });
    return { item, bytes, reply };
  };

  const finish = async (file: OpenFile, entry: CopiedFile): Promise<void> => {
    try {
      await file.handle.sync();
    } finally {
      await file.handle.close();
    }
    options.progress.files++;
    await options.onCopied(entry);
    copied.push(entry);
  };

  let failure: unknown;
  try {
    const window = WINDOW_PER_WORKER * Math.max(1, options.pool.size) + 1;
    for await (const { item, bytes, reply } of mapOrdered(runsOf(jobs, options.source, readBytes, options.segmentSize, buffers), window, seal)) {
      if (options.signal?.aborted) throw new InterruptedError('diskprep interrupted');
      if (item.kind === 'vanished') {
        vanished.push(item.file.path);
        options.onVanished?.(item.file.path);
        continue;
      }
      if (item.first === 0) current = await startFile(item.file, nextNumber++);
      const file = current!;
      await writer.append(recordsOf(reply!, item.first, item.file.size, options.segmentSize));
      // Copied out: the read buffer (moved to a worker and back, so reached through the reply) is free again.
      buffers.give(reply!.data.buffer);
      options.progress.bytes += bytes;
      // A file's last run is written whole before the failpoint; an earlier run's last partial block waits for the next.
      if (reply!.sha256 !== undefined) await writer.finish();
      options.failpoints?.hit('diskprep-segments-written');
      if (reply!.sha256 === undefined) continue;
      const entry = completedEntry(file, reply!.sha256, options.segmentSize);
      current = undefined;
      const previous = syncs[syncs.length - 1] ?? Promise.resolve();
      // Sequential: entries are reported in file order, each after its own fsync.
      const sync = previous.then(
        () => finish(file, entry),
        async (err: unknown) => {
          await file.handle.close().catch(() => undefined);
          throw err;
        },
      );
      sync.catch(() => undefined);
      syncs.push(sync);
      if (syncs.length > SYNCS_IN_FLIGHT) await syncs.shift();
    }
  } catch (err) {
    failure = err;
  }
  if (current) {
    await current.handle.close().catch(() => undefined);
  }
  // What was fsynced is still reported, so a rerun need not redo it.
  const settled = await Promise.allSettled(syncs);
  const syncFailure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  const error = (failure ?? syncFailure?.reason) as Error | undefined;
  if (error !== undefined && !isDiskFull(error)) throw error;
  const full = error !== undefined;
  if (full) {
    // Partial or unsynced files of this copy would only waste the space the next disk needs anyway.
    const reported = new Set(copied.map((c) => c.n));
    for (let n = options.firstNumber; n < nextNumber; n++) {
      if (!reported.has(n)) await rm(join(options.disk, diskFileName(n)), { force: true });
    }
  }
  const done = new Set([...copied.map((c) => c.path), ...vanished]);
  return { copied, vanished, full, notCopied: full ? files.filter((f) => !done.has(f.path)) : [], nextNumber };

  async function startFile(job: FileJob, n: number): Promise<OpenFile> {
    const relative = diskFileName(n);
    const path = join(options.disk, relative);
    const folder = dirname(path);
    if (!folders.has(folder)) {
      await mkdir(folder, { recursive: true });
      folders.add(folder);
    }
    const handle = await open(path, 'w', 0o644);
    try {
      writer.start(handle);
      await writer.append([fileHeader(job.fileId, options.segmentSize)]);
    } catch (err) {
      await handle.close();
      throw err;
    }
    return { job, n, path, handle };
  }
}

/**
 * Read buffers of `size` bytes, recycled from run to run: a fresh buffer per staging read would be
 * mapped, faulted in and collected each time, which cost diskprep's main thread more than all its other work.
 * A buffer travels to a crypto worker and back as its ArrayBuffer, which is what comes back here. How many
 * exist is bounded by the runs in flight (the read-ahead depth plus the sealing window).
 */
class ReadBuffers {
  private readonly free: ArrayBuffer[] = [];

  constructor(private readonly size: number) {}

  /**
   * A buffer of `size` bytes that starts on a block boundary, so that a staging storage that reads past
   * the page cache (FsStorage's `directReads`) can read into it.
   */
  take(): Buffer {
    const buffer = this.free.pop();
    return buffer !== undefined ? alignedView(buffer).subarray(0, this.size) : allocateAligned(this.size);
  }

  give(buffer: ArrayBufferLike): void {
    if (buffer instanceof ArrayBuffer && buffer.byteLength === this.size + DIRECT_ALIGN) this.free.push(buffer);
  }
}

/** Reads `length` bytes at `offset` of `path` into `target`: without allocating when the storage can. */
async function readRun(source: Storage, path: string, offset: number, length: number, target: Buffer): Promise<void> {
  if (source.loadInto !== undefined) return source.loadInto(path, { offset, length }, target);
  target.set(await source.load(path, { offset, length }));
}

/** Yields every file as runs of segments read from staging into pooled buffers, in order, reading ahead; a file missing at its first read yields `vanished`. */
async function* runsOf(jobs: readonly FileJob[], source: Storage, readBytes: number, segmentSize: number, buffers: ReadBuffers): AsyncGenerator<Item> {
  function* requests(): Generator<{ job: FileJob; offset: number; length: number }> {
    for (const job of jobs) {
      if (job.size === 0) yield { job, offset: 0, length: 0 };
      for (let offset = 0; offset < job.size; offset += readBytes) yield { job, offset, length: Math.min(readBytes, job.size - offset) };
    }
  }
  const load = async (r: { job: FileJob; offset: number; length: number }): Promise<Buffer> => {
    const buffer = buffers.take();
    try {
      await readRun(source, r.job.path, r.offset, r.length, buffer);
    } catch (err) {
      buffers.give(buffer.buffer);
      throw err;
    }
    return buffer.subarray(0, r.length);
  };
  for await (const { request, outcome } of readAhead(requests(), READ_DEPTH, load)) {
    const { job, offset } = request;
    if (job.vanished) continue;
    if (!outcome.ok) {
      if (offset === 0 && outcome.error instanceof NotFoundError) {
        job.vanished = true;
        yield { kind: 'vanished', file: job };
        continue;
      }
      throw withContext(`reading ${job.path} from the staging location`, outcome.error);
    }
    yield { kind: 'run', file: job, first: offset / segmentSize, data: outcome.data };
  }
}

/** The records of a protected run in disk order: body, tag, body, tag, … (no bytes copied). */
function recordsOf(reply: SealReply, first: number, size: number, segmentSize: number): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let encrypted = 0;
  for (let k = 0; k < reply.tags.length / TAG_BYTES; k++) {
    const body = isEncryptedSegment(size, segmentSize, first + k) ? reply.encrypted[encrypted++]! : reply.data.subarray(k * segmentSize, Math.min(reply.data.length, (k + 1) * segmentSize));
    parts.push(body, reply.tags.subarray(k * TAG_BYTES, (k + 1) * TAG_BYTES));
  }
  return parts;
}

function completedEntry(file: OpenFile, sha256: string, segmentSize: number): CopiedFile {
  const name = basename(file.job.path);
  if (/^[0-9a-f]{64}$/.test(name) && name !== sha256) {
    throw new IntegrityError(
      `the staging file ${file.job.path} is damaged: its SHA-256 is ${sha256}, not its name; check the staging location with \`ferry check --read-data -r STAGING\``,
    );
  }
  return {
    n: file.n,
    path: file.job.path,
    size: file.job.size,
    sha256,
    fileId: file.job.fileId.toString('hex'),
    diskBytes: encryptedSize(file.job.size, segmentSize),
  };
}

function freshFileId(options: DiskCopyOptions): Buffer {
  for (;;) {
    const id = options.random.bytes(FILE_ID_BYTES);
    const hex = id.toString('hex');
    if (!options.usedFileIds.has(hex)) {
      options.usedFileIds.add(hex);
      return id;
    }
  }
}

function isDiskFull(err: unknown): boolean {
  return isErrno(err, 'ENOSPC') || isErrno(err, 'EDQUOT');
}
