import { resolve } from 'node:path';
import type { Id } from '../../core/ids.js';
import type { Repository, SnapshotRecord } from '../repository/repository.js';
import type { BackupSummary, SkippedEntry, Snapshot } from '../snapshot/snapshot.js';
import { Archiver, type BackupProgress } from './archiver.js';
import { Excludes } from './excludes.js';

export interface BackupRequest {
  /** Source paths; relative ones are resolved against the current directory. */
  readonly paths: readonly string[];
  readonly tags?: readonly string[];
  readonly excludes?: readonly string[];
  /** The snapshot to compare with; see {@link findParent}. */
  readonly parent?: SnapshotRecord;
  readonly uid: number;
  readonly gid: number;
  readonly progress?: BackupProgress;
  readonly onSkipped?: (entry: SkippedEntry) => void;
  readonly signal?: AbortSignal;
  /** The lock the backup runs under; checked right before the snapshot is written. */
  readonly lock?: { assertHeld(): void };
}

export interface BackupResult {
  readonly id: Id;
  readonly snapshot: Snapshot;
  readonly summary: BackupSummary;
}

export function newProgress(): BackupProgress {
  return { filesDone: 0, dirsDone: 0, bytesDone: 0, bytesRead: 0, currentPath: '', errors: 0 };
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
  const writer = repo.createWriter();
  const archiver = new Archiver(repo, writer, {
    excludes: new Excludes(request.excludes ?? []),
    progress,
    signal: request.signal,
    onSkipped: (entry) => {
      skipped.push(entry);
      request.onSkipped?.(entry);
    },
  });
  const tree = await archiver.archive(paths, request.parent?.snapshot.tree);
  await writer.flush();
  const end = clock.now();
  const summary: BackupSummary = {
    ...archiver.counts,
    ...writer.stats,
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
    excludes: [...(request.excludes ?? [])],
    ...(request.parent ? { parent: request.parent.id } : {}),
    summary,
    skipped,
  };
  // A backup that lost its lock may have raced a prune: its packs could be gone, so no snapshot.
  request.lock?.assertHeld();
  const id = await repo.saveSnapshot(snapshot);
  repo.context.failpoints?.hit('snapshot-saved');
  return { id, snapshot, summary };
}
