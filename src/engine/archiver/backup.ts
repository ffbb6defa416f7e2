import { resolve } from 'node:path';
import type { Id } from '../../core/ids.js';
import type { Repository, SnapshotRecord } from '../repository/repository.js';
import type { BackupSummary, SkippedEntry, Snapshot } from '../snapshot/snapshot.js';
import type { WriterStats } from '../repository/repository-writer.js';
import { Archiver, type ArchiveCounts, type BackupProgress, type SkippedSource } from './archiver.js';
import { Excludes, type ExcludeRules } from './excludes.js';
import { LockLostError } from '../repository/lock-lost-error.js';

export interface BackupRequest {
  /** Source paths; relative ones are resolved against the current directory. */
  readonly paths: readonly string[];
  readonly tags?: readonly string[];
  /** What to leave out (patterns with restic's meaning, tag files, size, other file systems). */
  readonly excludes?: ExcludeRules;
  /** The snapshot to compare with; see {@link findParent}. */
  readonly parent?: SnapshotRecord;
  readonly uid: number;
  readonly gid: number;
  readonly progress?: BackupProgress;
  readonly onSkipped?: (entry: SkippedSource) => void;
  readonly signal?: AbortSignal;
  /**
   * The lock the backup runs under: checked before every index file and right before the snapshot; when
   * its `signal` aborts (the lock was lost) the backup stops at once with the loss as its error.
   */
  readonly lock?: { assertHeld(): void; refresh?(): Promise<void>; readonly signal?: AbortSignal };
  /** Worker threads for compression and sealing (0: on the calling thread); at most this many, started as needed. */
  readonly workers?: number;
  /** Milliseconds the reads wait for the running workers before the next one starts (0: all start at once); see EncoderPoolOptions. */
  readonly stallBeforeNextWorker?: number;
  /** Leave extended attributes and ACLs out (`--no-xattrs`). */
  readonly noXattrs?: boolean;
  /** Files from a minimum chunk up read at once (ArchiverOptions' `largeFileReads`; by default one). */
  readonly largeFileReads?: number;
  /** Recorded in the snapshot as the program that wrote it (e.g. `ferry 0.1.0`). */
  readonly programVersion?: string;
}

export interface BackupResult {
  readonly id: Id;
  readonly snapshot: Snapshot;
  readonly summary: BackupSummary;
  /** The exclude patterns that left nothing out, as `--exclude 'X'`, for a warning. */
  readonly unmatchedPatterns: string[];
}

export function newProgress(): BackupProgress {
  return { filesDone: 0, dirsDone: 0, bytesDone: 0, bytesRead: 0, currentPath: Buffer.alloc(0), errors: 0 };
}

/** Normalizes backup paths the way snapshots record them: absolute, sorted, without duplicates. */
export function normalizePaths(paths: readonly string[]): string[] {
  return [...new Set(paths.map((p) => resolve(p)))].sort();
}

/** The latest snapshot of the same host and the same paths, which an incremental backup compares with. */
export function findParent(snapshots: readonly SnapshotRecord[], hostname: string, paths: readonly string[]): SnapshotRecord | undefined {
  const wanted = normalizePaths(paths).join('\0');
  let found: SnapshotRecord | undefined;
  for (const record of snapshots) {
    if (record.snapshot.hostname !== hostname || [...record.snapshot.paths].sort().join('\0') !== wanted) continue;
    if (!found || Date.parse(record.snapshot.time) >= Date.parse(found.snapshot.time)) found = record;
  }
  return found;
}

/**
 * Backs up `paths` into the repository (whose index must be loaded) and writes a snapshot.
 * Write order: packs, then the index files naming them, then the snapshot.
 */
export async function backup(repo: Repository, request: BackupRequest): Promise<BackupResult> {
  const clock = repo.context.clock;
  const start = clock.now();
  const paths = normalizePaths(request.paths);
  const progress = request.progress ?? newProgress();
  const skipped: SkippedEntry[] = [];
  const writer = repo.createWriter({
    workers: request.workers ?? 0,
    guard: () => request.lock?.assertHeld(),
    stallBeforeNextWorker: request.stallBeforeNextWorker,
  });
  const lockSignal = request.lock?.signal;
  const signals = [request.signal, lockSignal].filter((signal): signal is AbortSignal => signal !== undefined);
  const excludes = await Excludes.create(request.excludes ?? {}, paths);
  const archiver = new Archiver(repo, writer, {
    excludes,
    progress,
    noXattrs: request.noXattrs === true,
    largeFileReads: request.largeFileReads,
    signal: signals.length > 1 ? AbortSignal.any(signals) : signals[0],
    onSkipped: (entry) => {
      skipped.push({ path: entry.path, error: entry.error });
      request.onSkipped?.(entry);
    },
  });
  try {
    const tree = await archiver.archive(paths, request.parent?.snapshot.tree);
    await writer.flush();
    const result = await finish(repo, request, { tree, paths, start, progress, skipped, counts: archiver.counts, stats: writer.stats });
    return { ...result, unmatchedPatterns: excludes.unmatched() };
  } catch (err) {
    // The archiver reports any abort as an interruption; a lost lock is its own error (exit 11).
    if (lockSignal?.aborted && !request.signal?.aborted) throw lockSignal.reason instanceof Error ? lockSignal.reason : err;
    throw err;
  } finally {
    await writer.close();
  }
}

interface Archived {
  readonly tree: Id;
  readonly paths: string[];
  readonly start: number;
  readonly progress: BackupProgress;
  readonly skipped: SkippedEntry[];
  readonly counts: ArchiveCounts;
  readonly stats: WriterStats;
}

/** Writes the snapshot of a finished archive run. */
async function finish(repo: Repository, request: BackupRequest, archived: Archived): Promise<Omit<BackupResult, 'unmatchedPatterns'>> {
  const { tree, paths, start, progress, skipped } = archived;
  const clock = repo.context.clock;
  const end = clock.now();
  const summary: BackupSummary = {
    ...archived.counts,
    ...archived.stats,
    totalFilesProcessed: progress.filesDone,
    totalBytesProcessed: progress.bytesDone,
    bytesRead: progress.bytesRead,
    filesSkipped: skipped.length,
    backupStart: new Date(start).toISOString(),
    backupEnd: new Date(end).toISOString(),
  };
  const snapshot: Snapshot = {
    version: 1,
    time: new Date(start).toISOString(),
    tree,
    paths,
    hostname: repo.context.hostname,
    username: repo.context.username,
    uid: request.uid,
    gid: request.gid,
    tags: [...(request.tags ?? [])],
    excludes: [...(request.excludes?.exclude ?? [])],
    ...(request.parent ? { parent: request.parent.id } : {}),
    summary,
    skipped,
    ...(request.programVersion ? { programVersion: request.programVersion } : {}),
  };
  // A backup that lost its lock may have raced a prune: its packs could be gone, so no snapshot.
  // Refreshing first also notices a lock removed by someone else since the last periodic refresh. A
  // refresh that fails for another reason (the storage hiccuped) proves nothing: the lock is still good
  // until it goes stale, which assertHeld checks.
  await request.lock?.refresh?.().catch((err: unknown) => {
    if (err instanceof LockLostError) throw err;
  });
  request.lock?.assertHeld();
  const id = await repo.saveSnapshot(snapshot);
  repo.context.failpoints?.hit('snapshot-saved');
  return { id, snapshot, summary };
}
