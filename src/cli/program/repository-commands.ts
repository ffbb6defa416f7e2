/**
 * The command line of the repository commands (init, backup, snapshots, ls, restore, check, diff, stats,
 * forget, prune, unlock, repair): names, arguments, options and help. Each action loads its command
 * (commands/<verb>.ts) only when it runs, so that starting bin/ferry costs little.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { STATS_MODES, type StatsMode } from '../../engine/inspect/stats-modes.js';
import { collect, noLockOption, repoCommand, type Runner } from '../command-kit.js';
import type { CliContext, RepoOptions } from '../context.js';
import { parseCompressionLevel, parseCount } from '../option-parsers.js';
import type { BackupOptions } from '../commands/backup.js';
import type { CheckCommandOptions } from '../commands/check.js';
import type { InitOptions } from '../commands/init.js';
import type { DiffOptions } from '../commands/diff.js';
import type { ForgetOptions } from '../commands/forget.js';
import type { LsOptions } from '../commands/ls.js';
import type { PruneCommandOptions } from '../commands/prune.js';
import type { RepairIndexOptions, RepairSnapshotsOptions } from '../commands/repair.js';
import type { RestoreOptions } from '../commands/restore.js';
import type { StatsCommandOptions } from '../commands/stats.js';
import type { UnlockOptions } from '../commands/unlock.js';

/** Adds `ferry init`, `backup`, `snapshots`, `ls`, `restore` and `check` to the program. */
export function registerBasics(program: Command, ctx: CliContext, run: Runner): void {
  repoCommand(program, 'init', 'create a repository')
    .option('--compression-level <LEVEL>', 'zstd level of the new repository, 1 (fastest) to 19 (smallest); default 2', parseCompressionLevel)
    .action((opts: InitOptions) => run(import('../commands/init.js').then((m) => m.initCommand(ctx, opts))));
  repoCommand(program, 'backup', 'back up files and directories')
    .argument('<paths...>', 'files and directories to back up')
    .option('--tag <TAGS>', 'add tags to the snapshot (a,b: two tags; repeatable)', collect)
    .option('-e, --exclude <PATTERN>', "leave out paths matching PATTERN, with restic's meaning (repeatable; ! re-includes)", collect)
    .option('--iexclude <PATTERN>', 'like --exclude, ignoring case (repeatable)', collect)
    .option('--exclude-file <FILE>', 'read --exclude patterns from FILE, one a line; # comments, $VARIABLES expanded (repeatable)', collect)
    .option('--iexclude-file <FILE>', 'like --exclude-file, ignoring case (repeatable)', collect)
    .option('--exclude-if-present <FILE[:HEADER]>', 'leave out the contents of folders holding FILE (that starts with HEADER) (repeatable)', collect)
    .option('--exclude-caches', 'leave out the contents of folders holding a CACHEDIR.TAG file')
    .option('--exclude-larger-than <SIZE>', 'leave out files larger than SIZE (e.g. 500k, 20M, 2G)')
    .option('-x, --one-file-system', 'stay on the file system of each source (mount points are kept, empty)')
    .option('--no-xattrs', 'leave extended attributes and ACLs out of the snapshot')
    .action((paths: string[], opts: BackupOptions) => run(import('../commands/backup.js').then((m) => m.backupCommand(ctx, paths, opts))));
  noLockOption(repoCommand(program, 'snapshots', 'list snapshots')).action((opts: RepoOptions) => run(import('../commands/snapshots.js').then((m) => m.snapshotsCommand(ctx, opts))));
  noLockOption(repoCommand(program, 'ls', 'list the files of a snapshot'))
    .argument('<snapshot>', 'snapshot id or "latest"')
    .argument('[folder...]', 'list only these folders (absolute paths) and their entries; a quoted path as ls prints it works too')
    .option('-l, --long', 'show mode (+ ACL, @ extended attributes), owner, size and time')
    .option('--recursive', 'with folders: list everything below them, not only their direct entries')
    .action((ref: string, folders: string[], opts: LsOptions) => run(import('../commands/ls.js').then((m) => m.lsCommand(ctx, ref, folders, opts))));
  noLockOption(repoCommand(program, 'restore', 'restore a snapshot'))
    .argument('<snapshot>', 'snapshot id or "latest"')
    .addOption(new Option('-t, --target <DIR>', 'directory to restore into').makeOptionMandatory())
    .option('-i, --include <PATTERN>', "restore only paths matching PATTERN, their parents and everything below them, with restic's meaning (repeatable)", collect)
    .option('--iinclude <PATTERN>', 'like --include, ignoring case (repeatable)', collect)
    .option('-e, --exclude <PATTERN>', 'restore everything but paths matching PATTERN (repeatable; not with --include)', collect)
    .option('--iexclude <PATTERN>', 'like --exclude, ignoring case (repeatable)', collect)
    .option('--no-xattrs', 'do not set extended attributes and ACLs')
    .action((ref: string, opts: RestoreOptions) => run(import('../commands/restore.js').then((m) => m.restoreCommand(ctx, ref, opts))));
  noLockOption(repoCommand(program, 'check', 'verify the repository'))
    .option('--read-data', 'also read and verify every pack')
    .option('--read-data-subset <SUBSET>', 'read and verify only a subset of the packs: N% (a random sample) or n/t (part n of t, by pack id)')
    .action((opts: CheckCommandOptions) => run(import('../commands/check.js').then((m) => m.checkCommand(ctx, opts))));
}

/** Adds `ferry diff SNAPSHOT[:PATH] SNAPSHOT[:PATH]` to the program. */
export function registerDiff(program: Command, ctx: CliContext, run: Runner): void {
  noLockOption(repoCommand(program, 'diff', 'show what changed from one snapshot to another'))
    .argument('<snapshot1>', 'the older side: snapshot id, "latest", optionally :PATH for a folder in it')
    .argument('<snapshot2>', 'the newer side, likewise')
    .option('--metadata', 'also list entries whose metadata alone changed (U)')
    .addHelpText(
      'after',
      '\nEach line starts with what happened to the entry: + added, - removed, M content modified, T type changed,\n' +
        'U metadata only (with --metadata), ? content changed while everything else is the same (damage).\n' +
        'Folders end with /. The statistics count entries, and the blobs only one side uses with their bytes (uncompressed).\n',
    )
    .action((first: string, second: string, opts: DiffOptions) => run(import('../commands/diff.js').then((m) => m.diffCommand(ctx, first, second, opts))));
}

/** Adds `ferry stats [SNAPSHOT…] [--mode MODE]` to the program. */
export function registerStats(program: Command, ctx: CliContext, run: Runner): void {
  noLockOption(repoCommand(program, 'stats', 'count the files and bytes of snapshots'))
    .argument('[snapshots...]', 'snapshot ids or "latest" (default: every snapshot)')
    .option('--mode <MODE>', `counting mode: ${STATS_MODES.join(', ')}`, parseMode, 'restore-size')
    .addHelpText(
      'after',
      '\nModes, as restic counts them:\n' +
        '  restore-size       every entry (files, folders, links…) and the bytes a restore writes (hard links once)\n' +
        '  files-by-contents  entries with distinct contents, and their size\n' +
        '  raw-data           the distinct blobs the snapshots use and the bytes they occupy in packs\n' +
        '  blobs-per-file     distinct files with their blobs per path, and those blobs\' bytes\n' +
        'Bytes in packs depend on the repository format: raw-data sizes differ from restic\'s for the same files.\n',
    )
    .action((refs: string[], opts: StatsCommandOptions) => run(import('../commands/stats.js').then((m) => m.statsCommand(ctx, refs, opts))));
}

/** Adds `ferry forget` to the program (wired in cli/main.ts). */
export function registerForget(program: Command, ctx: CliContext, run: Runner): void {
  const count = (what: string): string => `keep ${what} (-1 or "unlimited": all)`;
  repoCommand(program, 'forget', 'remove snapshots by id or by a retention policy (then `ferry prune`, or --prune, frees the space)')
    .argument('[snapshot-ids...]', 'remove these snapshots (full ids or unique prefixes; also snapshot files that cannot be read) instead of applying a policy')
    .option('--keep-last <N>', count('the N newest snapshots'), parseCount)
    .option('--keep-hourly <N>', count('the newest snapshot of each of the last N hours with snapshots'), parseCount)
    .option('--keep-daily <N>', count('the newest snapshot of each of the last N days with snapshots'), parseCount)
    .option('--keep-weekly <N>', count('the newest snapshot of each of the last N ISO weeks with snapshots'), parseCount)
    .option('--keep-monthly <N>', count('the newest snapshot of each of the last N months with snapshots'), parseCount)
    .option('--keep-yearly <N>', count('the newest snapshot of each of the last N years with snapshots'), parseCount)
    .option('--keep-within <DURATION>', 'keep snapshots newer than DURATION before the newest one (e.g. 36h, 7d, 2w, 1y6m)')
    .option('--keep-tag <TAGS>', 'keep snapshots with these tags (a,b: both; repeatable)', collect)
    .option('--host <HOST>', 'only consider snapshots taken on HOST (repeatable)', collect)
    .option('--tag <TAGS>', "only consider snapshots with these tags (a,b: both; '': untagged; repeatable)", collect)
    .option('--group-by <FIELDS>', "judge each group separately: host, paths, tags, comma-separated, or '' for one group", 'host,paths')
    .option('--dry-run', 'show what would be removed, remove nothing')
    .option('--prune', 'afterwards delete the data no snapshot uses any more (as `ferry prune`)')
    .addHelpText('after', '\nBuckets (hourly … yearly) use each snapshot\'s time in UTC. Snapshots the --host/--tag filters exclude are never removed.\n')
    .action((ids: string[], opts: ForgetOptions) => run(import('../commands/forget.js').then((m) => m.forgetCommand(ctx, ids, opts))));
}

/** Adds `prune` to the program; main.ts calls it. */
export function registerPrune(program: Command, ctx: CliContext, run: Runner): void {
  repoCommand(program, 'prune', 'delete data that no snapshot needs')
    .option('-n, --dry-run', 'only report what would be deleted and repacked')
    .action((opts: PruneCommandOptions) => run(import('../commands/prune.js').then((m) => m.pruneCommand(ctx, opts))));
}

/** Adds `ferry unlock [--remove-all]` to the program. */
export function registerUnlock(program: Command, ctx: CliContext, run: Runner): void {
  repoCommand(program, 'unlock', 'remove stale locks (of processes that are gone, or not refreshed in time)')
    .option('--remove-all', 'remove every lock, also those of processes that may still be running')
    .action((opts: UnlockOptions) => run(import('../commands/unlock.js').then((m) => m.unlockCommand(ctx, opts))));
}

/** Adds `ferry repair index` and `ferry repair snapshots` to `program`. */
export function registerRepair(program: Command, ctx: CliContext, run: Runner): void {
  const repair = program.command('repair').description('rebuild the index, or salvage damaged snapshots');
  repoCommand(repair, 'index', 'rebuild the index from the packs in the repository')
    .option('--read-data', 'download every pack and check its hash too (slow)')
    .action((opts: RepairIndexOptions) => run(import('../commands/repair.js').then((m) => m.repairIndexCommand(ctx, opts))));
  repoCommand(repair, 'snapshots', 'write repaired copies of damaged snapshots, without what is lost')
    .option('--forget', 'remove each damaged original once its repaired copy is saved')
    .option('--dry-run', 'only report what would be done')
    .option('--read-data', 'also download data packs and authenticate every blob (slow)')
    .action((opts: RepairSnapshotsOptions) => run(import('../commands/repair.js').then((m) => m.repairSnapshotsCommand(ctx, opts))));
}

/** `--mode` of `ferry stats`. */
function parseMode(value: string): StatsMode {
  if (!(STATS_MODES as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${STATS_MODES.join(', ')}`);
  return value as StatsMode;
}
