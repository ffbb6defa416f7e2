import { createHash, type Hash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { open, readdir, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { IntegrityError, InterruptedError, isErrno, withContext } from '../core/errors.js';
import { sha256Id } from '../engine/crypto/sha256.js';
import { deriveDiskSubkeys, diskFileName, encryptedSize, FILE_HEADER_BYTES, FILES_FOLDER, MANIFEST_NAME, parseFileHeader, segmentCount, segmentLength, TAG_BYTES } from './disk-format.js';
import { readLabel, type DiskLabel } from './disk-label.js';
import type { TransferProgress } from './disk-copier.js';
import { openManifest, type DiskManifest, type ManifestEntry } from './manifest.js';
import { mapOrdered } from './ordered-map.js';
import { readAhead } from './read-ahead.js';
import { SegmentCipher } from './segment-cipher.js';

/** What verification found for one file of a disk (docs/disk-format.md, section 7). */
export type FileStatus = 'ok' | 'missing' | 'wrong-size' | 'bad-header' | 'damaged' | 'hash-mismatch';

export interface FileCheck {
  readonly n: number;
  readonly path: string;
  readonly status: FileStatus;
  /** For `damaged`: the segments that do not authenticate (the others do). */
  readonly badSegments?: readonly number[];
  readonly detail?: string;
}

export interface VerifyOptions {
  readonly signal?: AbortSignal;
  readonly progress?: TransferProgress;
  /** Approximate bytes per read. */
  readonly readBytes?: number;
}

/** The outcome of {@link verifyDisk}. */
export interface DiskVerification {
  readonly label: DiskLabel;
  readonly manifest: DiskManifest;
  /** SHA-256 of the FERRY-MANIFEST file. */
  readonly manifestSha256: string;
  readonly files: readonly FileCheck[];
  /** Names under files/ that the manifest does not list (never used). */
  readonly extra: readonly string[];
  /** Every listed file is `ok`. */
  readonly ok: boolean;
}

/** What the reader expects of a disk; only `jobId` is required. */
export interface DiskExpectation {
  readonly jobId: string;
  readonly diskId?: string;
  readonly index?: number;
  readonly manifestSha256?: string;
}

const WINDOW = 24;
const READ_DEPTH = 2;
const DEFAULT_READ_BYTES = 8 * 1024 * 1024;

/**
 * Verifies a whole disk as a reader does (docs/disk-format.md, section 7): label, manifest (SHA-256
 * when expected, authentication, agreement with the label), then every file, segment by segment.
 * Throws `IntegrityError` when the label or manifest is missing, foreign or does not authenticate;
 * per-file problems are results, not errors.
 */
export async function verifyDisk(disk: string, diskKey: Uint8Array, expected: DiskExpectation, options: VerifyOptions = {}): Promise<DiskVerification> {
  const label = await readLabel(disk);
  if (!label) throw new IntegrityError(`${disk} has no Ferry disk label: not a prepared disk`);
  if (label.job.id !== expected.jobId) throw new IntegrityError(`${disk} belongs to import job ${label.job.name} (${label.job.id}), not ${expected.jobId}`);
  if (expected.diskId !== undefined && label.diskId !== expected.diskId) throw new IntegrityError(`${disk} is disk ${label.diskId}, expected ${expected.diskId}`);
  if (expected.index !== undefined && label.index !== expected.index) throw new IntegrityError(`${disk} is disk ${label.index + 1} of its job, expected disk ${expected.index + 1}`);
  let bytes: Buffer;
  try {
    bytes = await readFile(join(disk, MANIFEST_NAME));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new IntegrityError(`${disk} has no manifest: the disk was not finished`);
    throw withContext(`reading the manifest of ${disk}`, err);
  }
  const manifestSha256 = sha256Id(bytes);
  if (expected.manifestSha256 !== undefined && manifestSha256 !== expected.manifestSha256) {
    throw new IntegrityError(`the manifest of ${disk} is not the one registered for this disk (SHA-256 ${manifestSha256}): it was changed`);
  }
  const keys = deriveDiskSubkeys(diskKey, label.diskId);
  const manifest = openManifest(keys.manifestKey, bytes, label.diskId);
  if (manifest.job.id !== label.job.id || manifest.index !== label.index) {
    throw new IntegrityError(`the manifest of ${disk} disagrees with its label (job ${manifest.job.id} disk ${manifest.index + 1})`);
  }
  const cipher = await SegmentCipher.create(keys.fileKey);
  const files = await verifyFiles(disk, label.diskId, cipher, manifest.segmentSize, manifest.files, options);
  const listed = new Set(manifest.files.map((entry) => diskFileName(entry.n)));
  const extra = (await listDiskFiles(disk)).filter((name) => !listed.has(name));
  return { label, manifest, manifestSha256, files, extra, ok: files.every((f) => f.status === 'ok') };
}

/** The relative names of every entry under files/ (its folders' contents, and anything else there), sorted. */
export async function listDiskFiles(disk: string): Promise<string[]> {
  const names: string[] = [];
  for (const entry of await entriesOf(join(disk, FILES_FOLDER))) {
    const relative = `${FILES_FOLDER}/${entry.name}`;
    if (!entry.isDirectory()) {
      names.push(relative);
      continue;
    }
    for (const inner of await entriesOf(join(disk, relative))) names.push(`${relative}/${inner.name}`);
  }
  return names.sort();
}

async function entriesOf(path: string): Promise<Dirent[]> {
  try {
    return await readdir(path, { withFileTypes: true });
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw withContext(`listing ${path}`, err);
  }
}

type Item =
  | { readonly kind: 'result'; readonly check: FileCheck }
  | { readonly kind: 'segment'; readonly entry: ManifestEntry; readonly fileId: Buffer; readonly index: number; readonly segments: number; readonly record: Buffer };

type Opened = { readonly item: Item; readonly plaintext?: Buffer; readonly bad?: boolean };

/**
 * Verifies files of a disk against their manifest entries: presence, size, header, every segment's
 * authentication, and the SHA-256 of the plaintext. Reads run ahead and segments are opened on the
 * thread pool while the main thread hashes. Results come in entry order.
 */
export async function verifyFiles(
  disk: string,
  diskId: string,
  cipher: SegmentCipher,
  segmentSize: number,
  entries: readonly ManifestEntry[],
  options: VerifyOptions = {},
): Promise<FileCheck[]> {
  const recordsPerRead = Math.max(1, Math.floor((options.readBytes ?? DEFAULT_READ_BYTES) / (segmentSize + TAG_BYTES)));
  const results: FileCheck[] = [];
  const openRecord = async (item: Item): Promise<Opened> => {
    if (item.kind === 'result') return { item };
    const place = { diskId, path: item.entry.path, fileId: item.fileId, index: item.index, final: item.index === item.segments - 1 };
    try {
      return { item, plaintext: await cipher.open(item.record, place) };
    } catch (err) {
      if (err instanceof IntegrityError) return { item, bad: true };
      throw err;
    }
  };
  let hash: Hash | undefined;
  let bad: number[] = [];
  for await (const { item, plaintext } of mapOrdered(recordsOf(), WINDOW, openRecord)) {
    if (options.signal?.aborted) throw new InterruptedError('verification interrupted');
    if (item.kind === 'result') {
      results.push(item.check);
      continue;
    }
    if (item.index === 0) {
      hash = createHash('sha256');
      bad = [];
    }
    if (plaintext) {
      hash!.update(plaintext);
      if (options.progress) options.progress.bytes += plaintext.length;
    } else {
      bad.push(item.index);
    }
    if (item.index < item.segments - 1) continue;
    const { entry } = item;
    if (options.progress) options.progress.files++;
    if (bad.length > 0) {
      results.push({ n: entry.n, path: entry.path, status: 'damaged', badSegments: bad, detail: `segments ${bad.join(', ')} of ${item.segments} do not authenticate` });
      continue;
    }
    const digest = hash!.digest('hex');
    results.push(digest === entry.sha256 ? { n: entry.n, path: entry.path, status: 'ok' } : { n: entry.n, path: entry.path, status: 'hash-mismatch', detail: `SHA-256 ${digest}` });
  }
  return results;

  async function* recordsOf(): AsyncGenerator<Item> {
    for (const entry of entries) {
      const name = join(disk, diskFileName(entry.n));
      let handle: FileHandle;
      try {
        handle = await open(name, 'r');
      } catch (err) {
        if (isErrno(err, 'ENOENT')) {
          yield { kind: 'result', check: { n: entry.n, path: entry.path, status: 'missing' } };
          continue;
        }
        throw withContext(`opening ${name}`, err);
      }
      try {
        const problem = await checkShape(handle, entry);
        if (typeof problem !== 'object') {
          yield { kind: 'result', check: { n: entry.n, path: entry.path, status: problem === 'size' ? 'wrong-size' : 'bad-header' } };
          continue;
        }
        const segments = segmentCount(entry.size, segmentSize);
        const reads = function* (): Generator<{ first: number; count: number }> {
          for (let first = 0; first < segments; first += recordsPerRead) yield { first, count: Math.min(recordsPerRead, segments - first) };
        };
        const load = async (r: { first: number; count: number }): Promise<Buffer> => {
          const offset = FILE_HEADER_BYTES + r.first * (segmentSize + TAG_BYTES);
          const last = r.first + r.count - 1;
          const length = (last - r.first) * (segmentSize + TAG_BYTES) + segmentLength(entry.size, segmentSize, last) + TAG_BYTES;
          const buffer = Buffer.allocUnsafe(length);
          let done = 0;
          while (done < length) {
            const { bytesRead } = await handle.read(buffer, done, length - done, offset + done);
            if (bytesRead === 0) throw new IntegrityError(`${name} ended early`);
            done += bytesRead;
          }
          return buffer;
        };
        for await (const { request, outcome } of readAhead(reads(), READ_DEPTH, load)) {
          if (!outcome.ok) throw withContext(`reading ${name}`, outcome.error);
          let at = 0;
          for (let index = request.first; index < request.first + request.count; index++) {
            const length = segmentLength(entry.size, segmentSize, index) + TAG_BYTES;
            yield { kind: 'segment', entry, fileId: problem.fileId, index, segments, record: outcome.data.subarray(at, at + length) };
            at += length;
          }
        }
      } finally {
        await handle.close();
      }
    }
  }

  /** The file id when size and header are right, else which of them is wrong. */
  async function checkShape(handle: FileHandle, entry: ManifestEntry): Promise<{ fileId: Buffer } | 'size' | 'header'> {
    const { size } = await handle.stat();
    if (size !== encryptedSize(entry.size, segmentSize)) return 'size';
    const header = Buffer.alloc(FILE_HEADER_BYTES);
    await handle.read(header, 0, FILE_HEADER_BYTES, 0);
    try {
      const parsed = parseFileHeader(header);
      if (parsed.segmentSize !== segmentSize || parsed.fileId.toString('hex') !== entry.fileId) return 'header';
      return { fileId: parsed.fileId };
    } catch {
      return 'header';
    }
  }
}
