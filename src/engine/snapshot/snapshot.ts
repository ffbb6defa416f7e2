import { IntegrityError } from '../../core/errors.js';
import { isId, type Id } from '../../core/ids.js';

/** What a backup did; stored in its snapshot and printed at the end. */
export interface BackupSummary {
  readonly filesNew: number;
  readonly filesChanged: number;
  readonly filesUnmodified: number;
  readonly dirsNew: number;
  readonly dirsChanged: number;
  readonly dirsUnmodified: number;
  readonly dataBlobs: number;
  readonly treeBlobs: number;
  /** Plaintext bytes of the blobs this backup added. */
  readonly dataAdded: number;
  /** Bytes this backup added to the repository's packs (compressed and sealed). */
  readonly dataAddedPacked: number;
  readonly totalFilesProcessed: number;
  readonly totalBytesProcessed: number;
  /** Bytes actually read from the source (unchanged files are skipped without reading). */
  readonly bytesRead: number;
  readonly filesSkipped: number;
  readonly backupStart: string;
  readonly backupEnd: string;
}

/** A source file or directory the backup could not read, recorded so nobody mistakes the snapshot for complete. */
export interface SkippedEntry {
  readonly path: string;
  readonly error: string;
}

/** The snapshot document, stored sealed as `snapshots/<id>`. */
export interface Snapshot {
  readonly version: 1;
  readonly time: string;
  readonly tree: Id;
  readonly paths: readonly string[];
  readonly hostname: string;
  readonly username: string;
  readonly uid: number;
  readonly gid: number;
  readonly tags: readonly string[];
  readonly excludes: readonly string[];
  readonly parent?: Id;
  readonly summary?: BackupSummary;
  readonly skipped: readonly SkippedEntry[];
  /** The program that wrote the snapshot (`ferry 0.1.0`); absent in snapshots written before it was recorded. */
  readonly programVersion?: string;
}

/** Checks the fields a restore or check relies on; throws `IntegrityError`. */
export function validateSnapshot(value: unknown): Snapshot {
  const s = value as Snapshot;
  const ok =
    typeof s === 'object' && s !== null && s.version === 1 && typeof s.time === 'string' &&
    !Number.isNaN(Date.parse(s.time)) && typeof s.tree === 'string' && isId(s.tree) &&
    Array.isArray(s.paths) && s.paths.every((p) => typeof p === 'string') &&
    typeof s.hostname === 'string' && Array.isArray(s.tags) && Array.isArray(s.skipped) &&
    (s.parent === undefined || (typeof s.parent === 'string' && isId(s.parent)));
  if (!ok) throw new IntegrityError('snapshot document is malformed');
  return s;
}
