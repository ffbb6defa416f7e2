import { shortId } from '../../core/ids.js';
import { repairIndex } from '../../engine/repair/repair-index.js';
import { repairSnapshots, type SnapshotOutcome } from '../../engine/repair/repair-snapshots.js';
import { objectKey } from '../../storage/layout.js';
import { openLockedRepository, type CliContext, type RepoOptions } from '../context.js';

export interface RepairIndexOptions extends RepoOptions {
  readonly readData?: boolean;
}

export interface RepairSnapshotsOptions extends RepoOptions {
  readonly forget?: boolean;
  readonly dryRun?: boolean;
  readonly readData?: boolean;
}

/** `ferry repair index [--read-data]`: exit 0 once the new index is written, even when packs were skipped (they are listed). */
export async function repairIndexCommand(ctx: CliContext, options: RepairIndexOptions): Promise<number> {
  const { repo, lock } = await openLockedRepository(ctx, options, 'exclusive');
  const tty = ctx.stdout.isTTY && !options.json;
  const report = await repairIndex(repo, {
    readData: options.readData ?? false,
    lock,
    onProgress: tty ? (done, total) => ctx.stdout.write(`\r\x1b[Kread ${done}/${total} pack headers`) : undefined,
  });
  if (tty) ctx.stdout.write('\r\x1b[K');
  if (options.json) {
    ctx.stdout.write(
      JSON.stringify({
        message_type: 'summary',
        packs_indexed: report.packsIndexed,
        blobs_indexed: report.blobsIndexed,
        packs_added: report.packsAdded,
        packs_dropped: report.packsDropped,
        packs_skipped: report.packsSkipped,
        unreadable_index_files: report.unreadableIndexFiles,
        index_files_written: report.indexFilesWritten,
        index_files_removed: report.indexFilesRemoved,
      }) + '\n',
    );
    return 0;
  }
  for (const file of report.unreadableIndexFiles) ctx.stderr.write(`warning: index ${shortId(file.id)} could not be read (${file.problem}); replaced\n`);
  for (const pack of report.packsSkipped) {
    ctx.stderr.write(`warning: ${pack.problem}: not indexed, left in place (\`ferry prune\` removes it now that nothing references it)\n`);
  }
  if (report.packsDropped.length > 0) {
    ctx.stderr.write(`warning: ${report.packsDropped.length} packs the old index named are missing or damaged; run \`ferry check\`, then \`ferry repair snapshots\` for the snapshots that need them\n`);
  }
  ctx.stdout.write(
    `indexed ${report.packsIndexed} packs (${report.blobsIndexed} blobs; ${report.packsAdded} not in the old index), skipped ${report.packsSkipped.length}; ` +
      `wrote ${report.indexFilesWritten.length} index files, removed ${report.indexFilesRemoved.length}\n`,
  );
  return 0;
}

/**
 * `ferry repair snapshots [--forget] [--dry-run] [--read-data]`: exit 0 when every damaged snapshot was
 * repaired (or none was damaged), 1 when a snapshot that could not be repaired, or a snapshot file that
 * cannot be read, is still in the repository (without `--forget`, or in a dry run).
 */
export async function repairSnapshotsCommand(ctx: CliContext, options: RepairSnapshotsOptions): Promise<number> {
  const { repo, lock } = await openLockedRepository(ctx, options, 'exclusive');
  const report = await repairSnapshots(repo, { forget: options.forget, dryRun: options.dryRun, readData: options.readData, lock });
  const lostWhole = report.outcomes.filter((o) => o.kind !== 'repaired');
  const unrepairable = lostWhole.filter((o) => o.kind === 'unrepairable').length;
  const unreadable = lostWhole.filter((o) => o.kind === 'unreadable').length;
  const code = lostWhole.some((o) => !o.forgotten) ? 1 : 0;
  if (options.json) {
    for (const outcome of report.outcomes) ctx.stdout.write(JSON.stringify(outcomeJson(outcome)) + '\n');
    ctx.stdout.write(
      JSON.stringify({
        message_type: 'summary',
        dry_run: report.dryRun,
        snapshots: report.snapshotsChecked,
        repaired: report.outcomes.length - lostWhole.length,
        unrepairable,
        unreadable,
        unindexed_packs: report.unindexedPacks,
      }) + '\n',
    );
    return code;
  }
  const would = report.dryRun ? 'would be ' : '';
  const fate = (forgotten: boolean): string => (forgotten ? '; removed' : options.forget && report.dryRun ? '; would be removed' : '');
  for (const outcome of report.outcomes) {
    if (outcome.kind === 'repaired') {
      const as = outcome.newId ? ` as ${shortId(outcome.newId)}` : '';
      ctx.stdout.write(`snapshot ${shortId(outcome.id)}: ${would}repaired${as}${outcome.forgotten ? ', original removed' : ''}; lost ${outcome.lost.length}:\n`);
      for (const item of outcome.lost) ctx.stdout.write(`  ${item.path}: ${item.reason}\n`);
    } else if (outcome.kind === 'unrepairable') {
      ctx.stderr.write(`snapshot ${shortId(outcome.id)}: could not be repaired: its root tree ${shortId(outcome.rootTree)} is lost (${outcome.reason})${fate(outcome.forgotten)}\n`);
    } else {
      const remove = outcome.forgotten || options.forget ? fate(outcome.forgotten) : `; remove it with \`ferry repair snapshots --forget\` or \`ferry forget ${outcome.id}\``;
      ctx.stderr.write(`snapshot file ${objectKey('snapshot', outcome.id)} cannot be read (${outcome.reason}): nothing of it can be salvaged${remove}\n`);
    }
  }
  if (report.unindexedPacks > 0 && report.outcomes.length > unreadable) {
    ctx.stderr.write(`warning: ${report.unindexedPacks} packs are not in the index; if what is lost may be in them, run \`ferry repair index\` first\n`);
  }
  const damaged = report.outcomes.length;
  const removed = lostWhole.filter((o) => o.forgotten).length;
  const unreadableText = unreadable > 0 ? `, ${unreadable} cannot be read` : '';
  const counts = `${damaged - lostWhole.length} ${would}repaired, ${unrepairable} could not be repaired${unreadableText}${removed > 0 ? ` (${removed} removed)` : ''}`;
  ctx.stdout.write(`checked ${report.snapshotsChecked} snapshots: ${damaged === 0 ? 'none is damaged' : counts}${report.dryRun ? ' (dry run: nothing written)' : ''}\n`);
  return code;
}

function outcomeJson(outcome: SnapshotOutcome): Record<string, unknown> {
  if (outcome.kind === 'repaired') {
    return { message_type: 'repaired', snapshot_id: outcome.id, new_snapshot_id: outcome.newId, forgotten: outcome.forgotten, lost: outcome.lost };
  }
  if (outcome.kind === 'unreadable') return { message_type: 'unreadable', snapshot_id: outcome.id, reason: outcome.reason, forgotten: outcome.forgotten };
  return { message_type: 'unrepairable', snapshot_id: outcome.id, root_tree: outcome.rootTree, reason: outcome.reason, forgotten: outcome.forgotten };
}
