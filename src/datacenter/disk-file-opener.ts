/**
 * Reads one file of a disk for ingest: opens it safely (disk-path.ts), checks its length and header,
 * authenticates every segment and decrypts the encrypted ones (the disk format's own functions,
 * src/seed/). Every failure is a result with its error-log code, never a throw, so a
 * bad file never stops the disk. Runs on an ingest worker (open-pool.ts) or in the calling thread.
 *
 * It does not hash the plaintext: every file ingest takes is content-named with the manifest's SHA-256
 * as its name (import-key.ts), and the service hashes every upload against its name before it stores it,
 * refusing other bytes (`IntegrityError`, which ingest logs as `ChecksumMismatch`). A second SHA-256
 * here proved the same thing again, at ~0.6 CPU-s per GB (docs/PERFORMANCE.md).
 */
import type { FileHandle } from 'node:fs/promises';
import { IntegrityError } from '../core/errors.js';
import { diskFileName, encryptedSize, FILE_HEADER_BYTES, parseFileHeader, segmentCount, segmentLength, TAG_BYTES } from '../seed/disk-format.js';
import type { ManifestEntry } from '../seed/manifest.js';
import { readAhead } from '../seed/read-ahead.js';
import { openSegment, segmentPlace } from '../seed/segment-crypto.js';
import { openOnDisk, type OpenFailureCode } from './disk-path.js';
import { plaintextView } from './plaintext-buffers.js';

/** What is needed to read one file of a disk. */
export interface OpenFileRequest {
  /** The disk root, resolved with realpath. */
  readonly disk: string;
  readonly diskId: string;
  readonly fileKey: Uint8Array;
  readonly segmentSize: number;
  readonly entry: ManifestEntry;
  /** Approximate bytes per read (whole segments). */
  readonly readBytes: number;
  /**
   * Memory for the plaintext, recycled from an earlier file (open-pool.ts), used when it has room for
   * `entry.size` bytes: the plaintext is then a view of it from its first aligned byte (plaintextView). A
   * fresh buffer otherwise.
   */
  readonly buffer?: SharedArrayBuffer;
}

/** Why a file of a disk yields nothing to upload: its error-log code and a message naming the file. */
export type OpenFailure = { readonly ok: false; readonly code: OpenFailureCode | 'DecryptFailed'; readonly message: string };

/** The file's plaintext (a view of the start of memory it alone uses, so it can move between threads), or why not. */
export type OpenedFile = { readonly ok: true; readonly plaintext: Buffer } | OpenFailure;

const READ_DEPTH = 2;

/**
 * Reads, authenticates and decrypts one file of a disk (see the module comment). `openFile` is
 * the safe open of disk-path.ts (replaceable in tests, to inject read errors).
 */
export async function openDiskFile(request: OpenFileRequest, openFile: typeof openOnDisk = openOnDisk): Promise<OpenedFile> {
  const { entry, segmentSize } = request;
  const name = diskFileName(entry.n);
  const opened = await openFile(request.disk, name);
  if (!opened.ok) return { ok: false, code: opened.code, message: `${entry.path}: ${opened.message}` };
  const handle = opened.handle;
  const fail = (code: OpenFailure['code'], message: string): OpenFailure => ({ ok: false, code, message: `${entry.path} (${name}): ${message}` });
  try {
    const expected = encryptedSize(entry.size, segmentSize);
    if (opened.size !== expected) return fail('DecryptFailed', `the file has ${opened.size} bytes, expected ${expected}: truncated or extended`);
    const header = Buffer.alloc(FILE_HEADER_BYTES);
    try {
      await readFully(handle, header, 0);
    } catch (err) {
      return fail('IOFailed', `reading failed: ${(err as Error).message}`);
    }
    let fileId: Buffer;
    try {
      const parsed = parseFileHeader(header);
      if (parsed.segmentSize !== segmentSize || parsed.fileId.toString('hex') !== entry.fileId) return fail('DecryptFailed', 'the file has the header of another file');
      fileId = parsed.fileId;
    } catch (err) {
      if (!(err instanceof IntegrityError)) throw err;
      return fail('DecryptFailed', `the file has no valid header: ${err.message}`);
    }
    const segments = segmentCount(entry.size, segmentSize);
    const perRead = Math.max(1, Math.floor(request.readBytes / (segmentSize + TAG_BYTES)));
    const runs = function* (): Generator<{ first: number; count: number }> {
      for (let first = 0; first < segments; first += perRead) yield { first, count: Math.min(perRead, segments - first) };
    };
    // Each segment is read straight into its place in the file's buffer and each tag beside it, so
    // the bytes of a segment that is only authenticated are never copied in user space.
    const recycled = request.buffer !== undefined ? plaintextView(request.buffer, entry.size) : undefined;
    const plaintext = recycled !== undefined && recycled.length === entry.size ? recycled : Buffer.allocUnsafeSlow(entry.size);
    const tags = Buffer.allocUnsafe(TAG_BYTES * segments);
    const bodyOf = (index: number): Buffer => plaintext.subarray(index * segmentSize, index * segmentSize + segmentLength(entry.size, segmentSize, index));
    const tagOf = (index: number): Buffer => tags.subarray(index * TAG_BYTES, (index + 1) * TAG_BYTES);
    const load = async (run: { first: number; count: number }): Promise<void> => {
      const views: Buffer[] = [];
      for (let index = run.first; index < run.first + run.count; index++) views.push(bodyOf(index), tagOf(index));
      await readvFully(handle, views, FILE_HEADER_BYTES + run.first * (segmentSize + TAG_BYTES));
    };
    const bad: number[] = [];
    const file = { diskId: request.diskId, path: entry.path, fileId, size: entry.size };
    for await (const { request: run, outcome } of readAhead(runs(), READ_DEPTH, load)) {
      if (!outcome.ok) return fail('IOFailed', `reading failed: ${(outcome.error as Error).message}`);
      for (let index = run.first; index < run.first + run.count; index++) {
        const place = segmentPlace(file, segmentSize, index);
        const body = bodyOf(index);
        try {
          const opened = openSegment(request.fileKey, body, tagOf(index), place);
          if (opened !== body) body.set(opened);
        } catch (err) {
          if (!(err instanceof IntegrityError)) throw err;
          bad.push(index);
        }
      }
    }
    if (bad.length > 0) return fail('DecryptFailed', `segment${bad.length === 1 ? '' : 's'} ${bad.join(', ')} of ${segments} do${bad.length === 1 ? 'es' : ''} not authenticate: damaged, or not this disk's`);
    return { ok: true, plaintext };
  } finally {
    await handle.close();
  }
}

/** Fills `views` in order from `position`; an early end of file is an error (the size was checked before). */
async function readvFully(handle: FileHandle, views: readonly Buffer[], position: number): Promise<void> {
  let rest = views.filter((view) => view.length > 0);
  let at = position;
  while (rest.length > 0) {
    const { bytesRead } = await handle.readv(rest, at);
    if (bytesRead === 0) throw new Error('the file ended early');
    at += bytesRead;
    let skip = bytesRead;
    const left: Buffer[] = [];
    for (const view of rest) {
      if (skip >= view.length) skip -= view.length;
      else {
        left.push(skip > 0 ? view.subarray(skip) : view);
        skip = 0;
      }
    }
    rest = left;
  }
}

/** Fills `buffer` from `position`; an early end of file is an error (the size was checked before). */
async function readFully(handle: FileHandle, buffer: Buffer, position: number): Promise<void> {
  for (let done = 0; done < buffer.length; ) {
    const { bytesRead } = await handle.read(buffer, done, buffer.length - done, position + done);
    if (bytesRead === 0) throw new Error('the file ended early');
    done += bytesRead;
  }
}
