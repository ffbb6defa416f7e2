import { pruneRepository, type PruneReport } from '../../engine/prune/prune.js';
import { openLockedRepository, type CliContext, type RepoOptions } from '../context.js';
import { formatBytes } from '../format.js';

export interface PruneCommandOptions extends RepoOptions {
  readonly dryRun?: boolean;
}

/**
 * `ferry prune [--dry-run] [--json]`: under an exclusive lock, deletes the data no snapshot needs and
 * prints what it did (or, with --dry-run, would do). Exit 0; 1 with one line saying what to do when
 * the repository is damaged (nothing is deleted then); 11 when another command holds a lock.
 */
export async function pruneCommand(ctx: CliContext, options: PruneCommandOptions): Promise<number> {
  const { repo, lock } = await openLockedRepository(ctx, options, 'exclusive');
  const live = ctx.stdout.isTTY && !options.json;
  const report = await pruneRepository(repo, {
    dryRun: options.dryRun ?? false,
    lock,
    onProgress: live ? (message) => ctx.stdout.write(`\r\x1b[K${message}`) : undefined,
  });
  if (live) ctx.stdout.write('\r\x1b[K');
  if (options.json) ctx.stdout.write(JSON.stringify(pruneSummaryJson(report)) + '\n');
  else printSummary(ctx, report);
  return 0;
}

/** The last line of `prune --json` (and of `forget --prune --json`). */
export function pruneSummaryJson(r: PruneReport): Record<string, unknown> {
  return { message_type: 'summary', ...pruneReportJson(r) };
}

/** A prune report in the CLI's JSON shape (also used by `forget --prune`). */
export function pruneReportJson(r: PruneReport): Record<string, unknown> {
  return {
    dry_run: r.dryRun,
    packs_deleted: r.packsDeleted,
    packs_repacked: r.packsRepacked,
    packs_kept: r.packsKept,
    bytes_freed: r.bytesFreed,
    blobs_removed: r.blobsRemoved,
    index_files_rewritten: r.indexFilesRewritten,
    interrupted_saves_removed: r.interruptedSavesRemoved,
  };
}

function printSummary(ctx: CliContext, r: PruneReport): void {
  const out = ctx.stdout;
  const would = r.dryRun ? 'would be ' : '';
  out.write(`Packs:       ${r.packsDeleted} ${would}deleted, ${r.packsRepacked} ${would}repacked, ${r.packsKept} kept\n`);
  out.write(`Blobs:       ${r.blobsRemoved} ${would}removed from the index\n`);
  out.write(`Index files: ${r.indexFilesRewritten} ${would}replaced\n`);
  if (r.interruptedSavesRemoved > 0) out.write(`Leftovers:   ${r.interruptedSavesRemoved} temporary files of interrupted saves removed\n`);
  out.write(`Space:       ${formatBytes(Math.max(0, r.bytesFreed))} ${r.dryRun ? 'would be freed (estimated)' : 'freed'}\n`);
  if (r.dryRun) out.write('dry run: nothing was changed\n');
  else if (r.packsDeleted + r.packsRepacked + r.indexFilesRewritten + r.interruptedSavesRemoved === 0) out.write('nothing to prune\n');
}
