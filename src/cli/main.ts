import { Command, CommanderError, Option } from 'commander';
import { collect, noLockOption, repoCommand, type Runner } from './command-kit.js';
import { FerryError, InterruptedError, UserError } from '../core/errors.js';
import { backupCommand } from './commands/backup.js';
import { checkCommand } from './commands/check.js';
import { registerForget } from './commands/forget.js';
import { registerPrune } from './commands/prune.js';
import { registerRepair } from './commands/repair.js';
import { registerUnlock } from './commands/unlock.js';
import { registerServe } from './commands/serve.js';
import { registerRegister } from './commands/register.js';
import { registerSchedule } from './commands/schedule.js';
import { registerAgent } from './commands/agent.js';
import { registerSeed } from './commands/seed.js';
import { registerJob } from './commands/job.js';
import { registerStorageAccount } from './commands/storage-account.js';
import { registerTenant } from './commands/tenant.js';
import { registerToken } from './commands/token.js';
import { registerAudit } from './commands/audit.js';
import { registerVault } from './commands/vault.js';
import { registerDiskprep } from './commands/diskprep.js';
import { registerDemo } from './commands/demo.js';
import { registerDatacenter } from './commands/datacenter.js';
import { registerDiff } from './commands/diff.js';
import { registerStats } from './commands/stats.js';
import { initCommand } from './commands/init.js';
import { lsCommand } from './commands/ls.js';
import { restoreCommand } from './commands/restore.js';
import { snapshotsCommand } from './commands/snapshots.js';
import { setMmapThreshold } from '../engine/os/posix-extras.js';
import { processContext, type CliContext, type RepoOptions } from './context.js';
import { FERRY_VERSION } from './version.js';
import { Interruption, outputSettled, STOP_EXIT_CODES } from './interruption.js';
import type { BackupOptions } from './commands/backup.js';
import type { CheckCommandOptions } from './commands/check.js';
import type { RestoreOptions } from './commands/restore.js';
import type { LsOptions } from './commands/ls.js';

/** Builds the command tree; each action stores the exit code it returns. */
export function buildProgram(ctx: CliContext, setExit: (code: number) => void): Command {
  const program = new Command('ferry')
    .description('Deduplicated, encrypted backups with offline seeding')
    .version(FERRY_VERSION)
    .showHelpAfterError('(run ferry --help for usage)')
    .option('--ca-cert <FILE>', "trust only this PEM file's CA certificates for the Ferry service's TLS (or FERRY_CA_CERT)")
    .configureHelp({ showGlobalOptions: true })
    .exitOverride();
  // Global options may stand anywhere on the command line; commands read them from the context.
  program.hook('preAction', () => {
    const { caCert } = program.opts<{ caCert?: string }>();
    if (caCert !== undefined) ctx.globalOptions.caCert = caCert;
  });
  const run: Runner = (action) => action.then(setExit);

  repoCommand(program, 'init', 'create a repository').action((opts: RepoOptions) => run(initCommand(ctx, opts)));
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
    .action((paths: string[], opts: BackupOptions) => run(backupCommand(ctx, paths, opts)));
  noLockOption(repoCommand(program, 'snapshots', 'list snapshots')).action((opts: RepoOptions) => run(snapshotsCommand(ctx, opts)));
  noLockOption(repoCommand(program, 'ls', 'list the files of a snapshot'))
    .argument('<snapshot>', 'snapshot id or "latest"')
    .argument('[folder...]', 'list only these folders (absolute paths) and their entries; a quoted path as ls prints it works too')
    .option('-l, --long', 'show mode (+ ACL, @ extended attributes), owner, size and time')
    .option('--recursive', 'with folders: list everything below them, not only their direct entries')
    .action((ref: string, folders: string[], opts: LsOptions) => run(lsCommand(ctx, ref, folders, opts)));
  noLockOption(repoCommand(program, 'restore', 'restore a snapshot'))
    .argument('<snapshot>', 'snapshot id or "latest"')
    .addOption(new Option('-t, --target <DIR>', 'directory to restore into').makeOptionMandatory())
    .option('-i, --include <PATTERN>', "restore only paths matching PATTERN, their parents and everything below them, with restic's meaning (repeatable)", collect)
    .option('--iinclude <PATTERN>', 'like --include, ignoring case (repeatable)', collect)
    .option('-e, --exclude <PATTERN>', 'restore everything but paths matching PATTERN (repeatable; not with --include)', collect)
    .option('--iexclude <PATTERN>', 'like --exclude, ignoring case (repeatable)', collect)
    .option('--no-xattrs', 'do not set extended attributes and ACLs')
    .action((ref: string, opts: RestoreOptions) => run(restoreCommand(ctx, ref, opts)));
  noLockOption(repoCommand(program, 'check', 'verify the repository'))
    .option('--read-data', 'also read and verify every pack')
    .option('--read-data-subset <SUBSET>', 'read and verify only a subset of the packs: N% (a random sample) or n/t (part n of t, by pack id)')
    .action((opts: CheckCommandOptions) => run(checkCommand(ctx, opts)));
  registerDiff(program, ctx, run);
  registerStats(program, ctx, run);
  registerForget(program, ctx, run);
  registerPrune(program, ctx, run);
  registerUnlock(program, ctx, run);
  registerRepair(program, ctx, run);
  registerServe(program, ctx, run);
  registerRegister(program, ctx, run);
  registerSchedule(program, ctx, run);
  registerAgent(program, ctx, run);
  registerSeed(program, ctx, run);
  registerToken(program, ctx, run);
  registerAudit(program, ctx, run);
  registerTenant(program, ctx, run);
  registerStorageAccount(program, ctx, run);
  registerVault(program, ctx, run);
  registerJob(program, ctx, run);
  registerDiskprep(program, ctx, run);
  registerDemo(program, ctx, run);
  registerDatacenter(program, ctx, run);
  return program;
}

/**
 * Entry point of bin/ferry: runs one command and exits with the CLI contract's code. `early` are the
 * signals bin/ferry caught while this module loaded.
 *
 * SIGINT, SIGTERM or a closed stdout abort `ctx.signal` (see {@link Interruption}); the command stops at
 * its next step, its lock is released, and the process exits 130 (SIGINT), 143 (SIGTERM) with one line on
 * stderr, or 141 quietly (closed stdout). A command that had finished its work when the signal came keeps
 * its own exit code.
 */
export async function main(argv: string[], early: readonly string[] = []): Promise<void> {
  keepAllocatorLean();
  const interruption = new Interruption(process).install();
  for (const name of early) if (name === 'SIGINT' || name === 'SIGTERM') interruption.stop(name);
  const ctx = processContext(interruption.signal);
  let exitCode = 0;
  // Stopped before it started counts as stopped before finishing.
  let failed = interruption.signal.aborted;
  try {
    if (!failed) await buildProgram(ctx, (code) => (exitCode = code)).parseAsync(argv);
  } catch (err) {
    failed = true;
    // Whatever the command threw once told to stop (an aborted read, a closed storage) is the stop itself.
    if (interruption.cause === undefined) exitCode = report(ctx, err);
  }
  await outputSettled(ctx.stdout);
  const cause = interruption.cause;
  if (cause !== undefined && (failed || cause === 'EPIPE')) {
    exitCode = STOP_EXIT_CODES[cause];
    if (cause !== 'EPIPE') ctx.stderr.write(`ferry: interrupted by ${cause}; the command stopped before finishing\n`);
  }
  for (const cleanup of ctx.cleanups) {
    await cleanup().catch((err: unknown) => ctx.stderr.write(`ferry: cleanup failed: ${(err as Error).message}\n`));
  }
  if (cause !== undefined) {
    // Work the command left running (a scan of the sources, worker threads) must not hold the exit up.
    process.exit(exitCode);
  }
  process.exitCode = exitCode;
}

/** See setMmapThreshold: large buffers go back to the system when freed. */
function keepAllocatorLean(): void {
  try {
    setMmapThreshold(MMAP_THRESHOLD);
  } catch {
    // The addon is missing: only the commands that need it fail, each with its own message.
  }
}

const MMAP_THRESHOLD = 1024 * 1024;

function report(ctx: CliContext, err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 1;
  if (err instanceof InterruptedError) {
    ctx.stderr.write(`ferry: ${err.message}\n`);
    return 130;
  }
  if (err instanceof UserError) {
    ctx.stderr.write(`ferry: ${err.message}\n`);
    return err.exitCode;
  }
  if (err instanceof FerryError) {
    ctx.stderr.write(`ferry: ${err.message}\n`);
    return err.exitCode;
  }
  ctx.stderr.write(`ferry: unexpected error (a bug; please report it):\n${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}
