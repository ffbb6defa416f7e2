import { availableParallelism } from 'node:os';
import { shortId, type Id } from '../../core/ids.js';
import { backup, findParent, newProgress, normalizePaths } from '../../engine/archiver/backup.js';
import { displayPath } from '../../engine/fs/byte-path.js';
import { Excludes } from '../../engine/archiver/excludes.js';
import { scanTotals, type ScanTotals } from '../../engine/archiver/scanner.js';
import type { BackupSummary } from '../../engine/snapshot/snapshot.js';
import type { BackupRunStatus, BackupRunTrigger } from '../../service/resources/backup-runs.js';
import { openLockedRepository, repositoryTarget, type CliContext, type RepoOptions, type RepositoryTarget } from '../context.js';
import { loadIndexWarning } from '../damaged-objects.js';
import type { SeedFollowUp } from '../seed-adoption.js';
import { formatBytes, formatDuration } from '../format.js';
import { bytesFields } from '../node-json.js';
import { ProgressLine, progressInterval } from '../progress-line.js';
import { backupSummaryJson } from '../restic-json.js';
import { PROGRAM_VERSION } from '../version.js';
import { checkSources, excludeRules, type ExcludeOptions } from '../backup-excludes.js';
import { encoderStall, encoderWorkers } from '../encoder-workers.js';
import { largeFileReads } from '../backup-reads.js';

export interface BackupOptions extends RepoOptions, ExcludeOptions {
  readonly tag?: string[];
  /** False with `--no-xattrs`: extended attributes and ACLs are left out of the snapshot. */
  readonly xattrs?: boolean;
}

/**
 * `ferry backup PATH…`: exit 0, or 3 when some source entries could not be read or some sources do not
 * exist (the rest is saved, each one named). Refuses (exit 1, nothing written) when no source exists or
 * the exclude options leave out every source.
 */
export function backupCommand(ctx: CliContext, paths: string[], options: BackupOptions): Promise<number> {
  return reportedBackup(ctx, paths, options, 'manual');
}

/**
 * A backup that, when it goes to this machine's registered vault, is reported to the service as a run
 * (succeeded, partial or failed, with counts and the first errors) whether it succeeds or not.
 * With a pending offline seed it first reads the import job: the backup goes to staging while the disks
 * travel, and once the job is complete the import is adopted and the backup goes to the vault,
 * incrementally from the seeded snapshot (see `followSeed`). The reporting and adoption code is loaded
 * only for such a backup.
 */
export async function reportedBackup(
  ctx: CliContext,
  paths: string[],
  options: BackupOptions,
  trigger: BackupRunTrigger,
  resolved?: RepositoryTarget,
): Promise<number> {
  let target = resolved ?? (await repositoryTarget(ctx, options));
  let follow: SeedFollowUp | undefined;
  if (target.seed && target.registration) {
    const { followSeed } = await import('../seed-adoption.js');
    follow = await followSeed(ctx, target, options);
    target = follow.target;
  }
  const runCtx = follow?.ctx ?? ctx;
  const started = ctx.repoContext.clock.now();
  const problems: string[] = [];
  const report = async (status: BackupRunStatus, summary?: BackupSummary, id?: Id): Promise<void> => {
    if (!target.registration) return;
    const { reportBackupRun } = await import('../run-report.js');
    await reportBackupRun(ctx, target.registration, {
      startedAt: new Date(started).toISOString(),
      finishedAt: new Date(Math.max(started, ctx.repoContext.clock.now())).toISOString(),
      status,
      // A snapshot in the staging location (a pending offline seed) is not in the vault: the service
      // refuses a run naming a snapshot it did not receive, so such a run is reported without one.
      snapshotId: target.seed ? null : (id ?? null),
      filesProcessed: summary?.totalFilesProcessed ?? 0,
      bytesRead: summary?.bytesRead ?? 0,
      bytesAdded: summary?.dataAddedPacked ?? 0,
      errors: problems,
      trigger,
    });
  };
  let result: { id: Id; summary: BackupSummary; parent: boolean };
  try {
    // After an adoption the vault's snapshots are checked before the summary, which stays the last line.
    const checkAdoption = follow?.adopted ? () => checkAdoptedVault(ctx, runCtx, follow, options.json === true) : undefined;
    result = await runBackup(runCtx, paths, options, target, (line) => problems.push(line), checkAdoption);
  } catch (err) {
    problems.unshift(err instanceof Error ? err.message : String(err));
    await report('failed');
    throw err;
  }
  const code = result.summary.filesSkipped > 0 ? 3 : 0;
  await report(code === 3 ? 'partial' : 'succeeded', result.summary, result.id);
  if (target.seed && !options.json) {
    const { seed } = target;
    const state = follow?.jobState ? `, ${follow.jobState}` : '';
    const ended = follow?.jobState === 'Deleted' || follow?.jobState === 'Cancelled' || follow?.jobState === 'Failed';
    const next = follow?.jobState === undefined || follow.jobState === 'Creating' ? ` Next, on the copy computer: \`ferry diskprep --staging ${seed.staging} --disk PATH…\`` : '';
    ctx.stdout.write(
      `${result.parent ? 'this backup' : 'the full backup of the offline seed'} went to the staging location ${seed.staging} (import job ${seed.jobName}${state}); ` +
        `backups keep going there until ${ended ? `the seed is abandoned (\`ferry seed abandon ${seed.jobName}\`)` : 'the import is adopted'}.${next}\n`,
    );
  }
  return code;
}

async function checkAdoptedVault(ctx: CliContext, runCtx: CliContext, follow: SeedFollowUp, json: boolean): Promise<void> {
  try {
    const { reportUnhealedSnapshots } = await import('../seed-adoption.js');
    await reportUnhealedSnapshots(runCtx, follow, json);
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    ctx.stderr.write(`warning: the check of the vault's snapshots after the adoption failed: ${(err as Error).message}; run \`ferry check\`\n`);
  }
}

async function runBackup(
  ctx: CliContext,
  paths: string[],
  options: BackupOptions,
  target: RepositoryTarget,
  onProblem: (line: string) => void,
  beforeSummary?: () => Promise<void>,
): Promise<{ id: Id; summary: BackupSummary; parent: boolean }> {
  const sources = normalizePaths(paths);
  const workers = encoderWorkers(ctx.env, availableParallelism());
  const stallBeforeNextWorker = encoderStall(ctx.env);
  const mode = options.json ? 'json' : ctx.stdout.isTTY ? 'tty' : 'none';
  const interval = progressInterval(ctx.env, mode);
  const rules = await excludeRules(ctx, options);
  // Missing sources are left to the archiver, which records each as skipped (exit 3).
  await checkSources(sources, rules);
  const { repo, lock } = await openLockedRepository(ctx, options, 'shared', target);
  // A damaged index file only hides its packs: their blobs are stored again if this backup needs them.
  await loadIndexWarning(ctx, repo, target);
  const { snapshots, unreadable } = await repo.readSnapshots();
  if (unreadable.length > 0) {
    const n = unreadable.length;
    ctx.stderr.write(`warning: ${n} snapshot file${n === 1 ? '' : 's'} cannot be read (\`ferry snapshots\` names ${n === 1 ? 'it' : 'them'}); the parent snapshot is chosen among the others\n`);
  }
  const parent = findParent(snapshots, ctx.repoContext.hostname, sources);
  const progress = newProgress();
  const totals: ScanTotals = { files: 0, bytes: 0, finished: false };
  if (mode !== 'none') void scanTotals(sources, await Excludes.create(rules, sources), totals, ctx.signal);
  const line = new ProgressLine(ctx.stdout, mode, ctx.repoContext.clock, () => ({
    files: progress.filesDone,
    bytes: progress.bytesDone,
    totalFiles: totals.files,
    totalBytes: totals.bytes,
    scanFinished: totals.finished,
    errors: progress.errors,
    current: displayPath(progress.currentPath),
  }), interval);
  if (!options.json && parent) ctx.stdout.write(`using parent snapshot ${shortId(parent.id)}\n`);
  line.startTicking();
  let result;
  try {
    result = await backup(repo, {
      paths: sources,
      tags: splitTags(options.tag ?? []),
      excludes: rules,
      parent,
      uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0,
      progress,
      signal: ctx.signal,
      lock,
      workers,
      stallBeforeNextWorker,
      largeFileReads: largeFileReads(ctx.env),
      noXattrs: options.xattrs === false,
      programVersion: PROGRAM_VERSION,
      onSkipped: (entry) => {
        line.stop();
        onProblem(`cannot read ${entry.path}: ${entry.error}`);
        // restic's error line, on stderr as restic writes it: stdout stays status lines and the summary.
        if (options.json) ctx.stderr.write(JSON.stringify({ message_type: 'error', error: { message: entry.error }, during: 'archival', ...bytesFields('item', entry.pathBytes) }) + '\n');
        else ctx.stderr.write(`warning: cannot read ${entry.path}: ${entry.error}\n`);
        line.startTicking();
      },
    });
  } finally {
    line.stop();
  }
  // The last status line says 100%, so a script drawing a progress bar ends full even after a short backup.
  line.drawFinal();
  const { id, summary } = result;
  for (const pattern of result.unmatchedPatterns) {
    const message = `${pattern} matched nothing, so it left nothing out (a pattern without a leading / matches at any depth; a ! pattern only takes back what an earlier one excluded)`;
    if (options.json) ctx.stderr.write(JSON.stringify({ message_type: 'warning', warning: { message } }) + '\n');
    else ctx.stderr.write(`warning: ${message}\n`);
  }
  await beforeSummary?.();
  if (options.json) ctx.stdout.write(JSON.stringify(backupSummaryJson(id, summary)) + '\n');
  else printSummary(ctx, id, summary, parent !== undefined);
  return { id, summary, parent: parent !== undefined };
}

/** restic's `--tag a,b`: each value is a comma-separated list; blanks around a tag and empty tags are dropped. */
export function splitTags(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(',')).map((t) => t.trim()).filter((t) => t !== '');
}

function printSummary(ctx: CliContext, id: Id, s: BackupSummary, incremental: boolean): void {
  const duration = Date.parse(s.backupEnd) - Date.parse(s.backupStart);
  const out = ctx.stdout;
  out.write(`Files:       ${s.filesNew} new, ${s.filesChanged} changed, ${s.filesUnmodified} unmodified\n`);
  out.write(`Dirs:        ${s.dirsNew} new, ${s.dirsChanged} changed, ${s.dirsUnmodified} unmodified\n`);
  out.write(`Read:        ${formatBytes(s.bytesRead)} of ${formatBytes(s.totalBytesProcessed)} processed${incremental ? ' (unchanged files skipped)' : ''}\n`);
  out.write(`Added:       ${formatBytes(s.dataAdded)} (${formatBytes(s.dataAddedPacked)} stored)\n`);
  if (s.filesSkipped > 0) out.write(`Skipped:     ${s.filesSkipped} unreadable entries (listed above and recorded in the snapshot)\n`);
  out.write(`Duration:    ${formatDuration(duration)} (${(duration / 1000).toFixed(2)} s)\n`);
  out.write(`snapshot ${shortId(id)} saved\n`);
}
