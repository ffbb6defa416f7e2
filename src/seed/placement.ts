/**
 * Which staging files go onto a disk (docs/disk-format.md, section 8). Pure functions: the caller
 * measures the disk, these decide.
 */
import { encryptedSize, LABEL_MAX_BYTES } from './disk-format.js';
import type { PlannedFile } from './disk-types.js';

/** One limit a disk's contents must stay within: `room` bytes left, and what each file costs of it. */
export interface Budget {
  readonly room: number;
  readonly cost: (file: PlannedFile) => number;
}

/**
 * Scans `remaining` once in order and takes each file whose cost fits every budget's room that is
 * left; the others stay, in order, for the next disk. Files are never split.
 */
export function fillDisk<T extends PlannedFile>(remaining: readonly T[], budgets: readonly Budget[]): { taken: T[]; left: T[] } {
  const rooms = budgets.map((b) => b.room);
  const taken: T[] = [];
  const left: T[] = [];
  for (const file of remaining) {
    const costs = budgets.map((b) => b.cost(file));
    if (costs.every((cost, i) => cost <= rooms[i]!)) {
      costs.forEach((cost, i) => (rooms[i]! -= cost));
      taken.push(file);
    } else {
      left.push(file);
    }
  }
  return { taken, left };
}

/** The service's default limit on one disk (10 TB). */
export const SERVICE_DISK_BYTES_LIMIT = 10 * 1000 ** 4;
/** The service's default limit on disks per job. */
export const SERVICE_DISKS_PER_JOB = 10;

export interface DiskMeasure {
  /** Free bytes for an unprivileged writer on the disk's file system now. */
  readonly freeBytes: number;
  /** The file system's block size. */
  readonly blockSize: number;
  readonly segmentSize: number;
  /** --max-bytes-per-disk, when given. */
  readonly maxBytes?: number;
  /** Bytes of the manifest with the files already on the disk and none of the new ones. */
  readonly manifestBytes: number;
  /** Manifest bytes one more file adds (an upper bound). */
  readonly manifestEntryBytes: (file: PlannedFile) => number;
  /** Apparent bytes of the files already on the disk (a resumed disk). */
  readonly usedBytes: number;
}

/**
 * The budgets of a disk: the bytes diskprep writes (label allowance, encrypted files, manifest) within
 * --max-bytes-per-disk and the service's limit, and the blocks they take within the free space less a
 * reserve (1 % of it, at least 16 MiB, at most 1 GiB).
 */
export function diskBudgets(measure: DiskMeasure): Budget[] {
  const { segmentSize, blockSize } = measure;
  const written = (file: PlannedFile): number => encryptedSize(file.size, segmentSize) + measure.manifestEntryBytes(file);
  const fixed = LABEL_MAX_BYTES + measure.manifestBytes + measure.usedBytes;
  const budgets: Budget[] = [{ room: SERVICE_DISK_BYTES_LIMIT - fixed, cost: written }];
  if (measure.maxBytes !== undefined) budgets.push({ room: measure.maxBytes - fixed, cost: written });
  const reserve = Math.min(2 ** 30, Math.max(16 * 2 ** 20, Math.floor(measure.freeBytes / 100)));
  const blocks = (bytes: number): number => Math.ceil(bytes / blockSize) * blockSize;
  budgets.push({
    // The files already there are in use already; the label and manifest are rewritten in place of themselves.
    room: measure.freeBytes - reserve - blocks(LABEL_MAX_BYTES) - blocks(measure.manifestBytes) - blockSize,
    cost: (file) => blocks(encryptedSize(file.size, segmentSize)) + blockSize + measure.manifestEntryBytes(file),
  });
  return budgets;
}
