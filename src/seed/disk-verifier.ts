import type { Dirent } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IntegrityError, InterruptedError, isErrno, withContext } from '../core/errors.js';
import { sha256Id } from '../engine/crypto/sha256.js';
import type { VerifyReply } from './crypto-protocol.js';
import { CryptoPool } from './crypto-pool.js';
import { deriveDiskSubkeys, diskFileName, FILES_FOLDER, MANIFEST_NAME } from './disk-format.js';
import { readLabel, type DiskLabel } from './disk-label.js';
import type { FileCheck, TransferProgress } from './disk-types.js';
import { openManifest, type DiskManifest, type ManifestEntry } from './manifest.js';
import { mapOrdered } from './ordered-map.js';

export interface VerifyOptions {
  /** Where the work runs; the calling thread when absent. */
  readonly pool?: CryptoPool;
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

/** Bytes per read-back read (whole records, at least one): small reads stay in the cache while they are authenticated. */
const DEFAULT_READ_BYTES = 2 * 1024 * 1024;

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
  const files = await verifyFiles(disk, label.diskId, keys.fileKey, manifest.segmentSize, manifest.files, options);
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

/**
 * Verifies files of a disk against their manifest entries: presence, size, header, every segment's
 * authentication, and the SHA-256 of the plaintext. Files are verified side by side on the crypto
 * pool (each worker reads its file itself); results come in entry order.
 */
export async function verifyFiles(
  disk: string,
  diskId: string,
  fileKey: Uint8Array,
  segmentSize: number,
  entries: readonly ManifestEntry[],
  options: VerifyOptions = {},
): Promise<FileCheck[]> {
  const pool = options.pool ?? new CryptoPool(0);
  const readBytes = options.readBytes ?? DEFAULT_READ_BYTES;
  const results: FileCheck[] = [];
  const source = (async function* () {
    yield* entries;
  })();
  const verify = (entry: ManifestEntry): Promise<VerifyReply> => pool.verify({ fileKey, diskId, disk, segmentSize, entry, readBytes });
  for await (const reply of mapOrdered(source, Math.max(1, pool.size) * 2, verify)) {
    if (options.signal?.aborted) throw new InterruptedError('verification interrupted');
    results.push(reply.check);
    if (options.progress) {
      options.progress.bytes += reply.bytes;
      options.progress.files++;
    }
  }
  return results;
}
