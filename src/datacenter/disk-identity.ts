/**
 * Tells what a disk given to ingest is, from its label and its manifest's SHA-256 against the job the
 * service knows, never from the order the disks were given in or where they are mounted. The manifest's
 * authentication needs the disk key and is checked later (disk-ingest.ts).
 */
import { readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { IntegrityError, isErrno } from '../core/errors.js';
import { sha256Id } from '../engine/crypto/sha256.js';
import { MANIFEST_NAME } from '../seed/disk-format.js';
import { readLabel, type DiskLabel } from '../seed/disk-label.js';
import type { ImportJob, ImportJobDisk } from '../contract/import-job.js';
import type { IngestProblem } from '../contract/ingest.js';

/** A disk of the job, as its label and registered record say; its manifest read but not yet authenticated. */
export interface IdentifiedDisk {
  readonly kind: 'disk';
  /** The path as given. */
  readonly given: string;
  /** The disk root, resolved with realpath. */
  readonly root: string;
  readonly label: DiskLabel;
  readonly record: ImportJobDisk;
  readonly manifestBytes: Buffer;
  readonly manifestSha256: string;
}

/** A disk ingest refuses; `problem` is what goes to the job's error log (absent: nothing to log, e.g. a missing path). */
export interface RefusedDisk {
  readonly kind: 'refused';
  readonly given: string;
  /** The disk's index when the label names one of this job's disks. */
  readonly index: number | null;
  readonly message: string;
  readonly problem?: IngestProblem;
}

/**
 * Identifies the disk at `given` for `job`: its label must name this job (else ForeignDisk) and a disk
 * the job has registered with the same index and id (else UnknownDisk); its FERRY-MANIFEST must exist
 * and have the registered SHA-256 (else ManifestCorrupted). A folder without a readable label is an
 * UnknownDisk too. Throws only for unexpected system errors.
 */
export async function identifyDisk(given: string, job: ImportJob): Promise<IdentifiedDisk | RefusedDisk> {
  let root: string;
  try {
    root = await realpath(given);
  } catch (err) {
    return { kind: 'refused', given, index: null, message: `cannot open the disk at ${given}: ${(err as Error).message}` };
  }
  let label: DiskLabel | undefined;
  try {
    label = await readLabel(root);
  } catch (err) {
    if (!(err instanceof IntegrityError)) throw err;
    return unknown(given, null, `the disk at ${given} has an unreadable label: ${err.message}`);
  }
  if (label === undefined) return unknown(given, null, `the disk at ${given} has no Ferry disk label (FERRY-DISK.json): not a disk made by ferry diskprep`);
  const name = `disk ${label.index + 1} (id ${label.diskId})`;
  if (label.job.id !== job.id) {
    const message = `the disk at ${given} is ${name} of another import job, "${label.job.name}" (${label.job.id}), not of "${job.name}": disks of different jobs never mix`;
    return { kind: 'refused', given, index: null, message, problem: { diskIndex: null, path: null, code: 'ForeignDisk', message } };
  }
  const record = job.disks.find((d) => d.index === label.index);
  if (record === undefined || record.id !== label.diskId) {
    const registered = record === undefined ? `the job has no disk ${label.index + 1}` : `the job's disk ${label.index + 1} has id ${record.id}`;
    return unknown(given, record === undefined ? null : label.index, `the disk at ${given} is ${name}, but ${registered}: an abandoned or replaced disk, or one this job does not know`);
  }
  let manifestBytes: Buffer;
  try {
    manifestBytes = await readFile(join(root, MANIFEST_NAME));
  } catch (err) {
    if (!isErrno(err, 'ENOENT') && !isErrno(err, 'EISDIR')) throw err;
    return corrupted(given, label.index, `the disk at ${given} (${name}) has no manifest (${MANIFEST_NAME}): it was not finished or the manifest was deleted`);
  }
  const manifestSha256 = sha256Id(manifestBytes);
  if (manifestSha256 !== record.manifestSha256) {
    return corrupted(given, label.index, `the manifest of ${name} at ${given} is not the one registered for it (SHA-256 ${manifestSha256}, registered ${record.manifestSha256}): it was changed or replaced`);
  }
  return { kind: 'disk', given, root, label, record, manifestBytes, manifestSha256 };
}

function unknown(given: string, index: number | null, message: string): RefusedDisk {
  return { kind: 'refused', given, index, message, problem: { diskIndex: index, path: null, code: 'UnknownDisk', message } };
}

/** A refusal for a manifest that is missing, changed or does not authenticate. */
export function corrupted(given: string, index: number, message: string): RefusedDisk {
  return { kind: 'refused', given, index, message, problem: { diskIndex: index, path: null, code: 'ManifestCorrupted', message } };
}
