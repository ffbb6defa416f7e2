import { snapshotStats, type SnapshotStats, type StatsMode } from '../../engine/inspect/snapshot-stats.js';
import type { SnapshotRecord } from '../../engine/repository/repository.js';
import { openLockedRepository, type CliContext, type RepoOptions } from '../context.js';
import { findSnapshotExplained, loadIndexWarning, unreadableSnapshotLine } from '../damaged-objects.js';
import { formatBytes } from '../format.js';
import { readProblemReporter } from '../read-problems.js';

export interface StatsCommandOptions extends RepoOptions {
  readonly mode: StatsMode;
}

/**
 * `ferry stats [SNAPSHOT…]`: restic's `stats` over the snapshots named, or every readable snapshot. A
 * snapshot file or folder that cannot be read is named on stderr and left out; the exit code is then 3.
 */
export async function statsCommand(ctx: CliContext, refs: readonly string[], options: StatsCommandOptions): Promise<number> {
  const { repo, target } = await openLockedRepository(ctx, options);
  await loadIndexWarning(ctx, repo, target);
  let snapshots: SnapshotRecord[];
  let unreadableSnapshots = 0;
  if (refs.length === 0) {
    const listing = await repo.readSnapshots();
    snapshots = listing.snapshots;
    unreadableSnapshots = listing.unreadable.length;
    for (const bad of listing.unreadable) ctx.stderr.write(`warning: ${unreadableSnapshotLine(target, bad)}; the statistics leave it out\n`);
  } else {
    const byId = new Map<string, SnapshotRecord>();
    for (const ref of refs) {
      const record = await findSnapshotExplained(ctx, repo, target, ref);
      byId.set(record.id, record);
    }
    snapshots = [...byId.values()];
  }
  const problems = readProblemReporter(ctx, 'counted');
  const stats = await snapshotStats(
    repo,
    snapshots.map((s) => s.snapshot.tree),
    options.mode,
    { onUnreadableTree: problems.unreadableTree, onUnindexedBlob: problems.unindexedBlob, signal: ctx.signal },
  );
  ctx.stdout.write(options.json ? JSON.stringify(statsJson(stats)) + '\n' : statsText(stats));
  return problems.count() > 0 || unreadableSnapshots > 0 ? 3 : 0;
}

/** restic's field names and order; zero counts and absent compression figures are left out, as restic does. */
function statsJson(s: SnapshotStats): Record<string, number> {
  const json: Record<string, number> = { total_size: s.totalSize };
  if (s.totalUncompressedSize) json.total_uncompressed_size = s.totalUncompressedSize;
  if (s.compressionRatio) json.compression_ratio = s.compressionRatio;
  if (s.compressionProgress) json.compression_progress = s.compressionProgress;
  if (s.compressionSpaceSaving) json.compression_space_saving = s.compressionSpaceSaving;
  if (s.totalFileCount) json.total_file_count = s.totalFileCount;
  if (s.totalBlobCount) json.total_blob_count = s.totalBlobCount;
  json.snapshots_count = s.snapshotsCount;
  return json;
}

function statsText(s: SnapshotStats): string {
  const lines = [`Stats in ${s.mode} mode:`, `     Snapshots processed:  ${s.snapshotsCount}`];
  if (s.totalBlobCount > 0) lines.push(`        Total Blob Count:  ${s.totalBlobCount}`);
  if (s.totalFileCount > 0) lines.push(`        Total File Count:  ${s.totalFileCount}`);
  if (s.totalUncompressedSize) lines.push(` Total Uncompressed Size:  ${formatBytes(s.totalUncompressedSize)}`);
  lines.push(`              Total Size:  ${formatBytes(s.totalSize)}`);
  if (s.compressionProgress) lines.push(`    Compression Progress:  ${s.compressionProgress.toFixed(2)}%`);
  if (s.compressionRatio) lines.push(`       Compression Ratio:  ${s.compressionRatio.toFixed(2)}x`);
  if (s.compressionSpaceSaving && s.compressionSpaceSaving > 0) lines.push(`Compression Space Saving:  ${s.compressionSpaceSaving.toFixed(2)}%`);
  return lines.join('\n') + '\n';
}
