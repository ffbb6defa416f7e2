/**
 * The command line of a machine's side of the service (register, schedule, agent, seed, diskprep) and of
 * the demo: names, arguments, options and help. Each action loads its command (commands/<verb>.ts) only
 * when it runs, so that starting bin/ferry costs little.
 */
import { Option, type Command } from 'commander';
import { parseRate, parseSize } from '../../seed/plan/units.js';
import { collect, type Runner } from '../command-kit.js';
import type { CliContext } from '../context.js';
import { parseDays, parseMaxBytes, parsed, parseScheduleCount } from '../option-parsers.js';
import type { AgentRunOptions } from '../commands/agent.js';
import type { DemoCommandOptions } from '../commands/demo.js';
import type { DiskprepOptions } from '../commands/diskprep.js';
import type { RegisterOptions } from '../commands/register.js';
import type { ScheduleSetOptions } from '../commands/schedule.js';
import type { SeedPlanOptions, SeedStartOptions } from '../commands/seed.js';
import type { SeedCleanupOptions } from '../commands/seed-adopted.js';

/** Adds `ferry register` (wired in cli/main.ts). */
export function registerRegister(program: Command, ctx: CliContext, run: (action: Promise<number>) => Promise<void>): void {
  program
    .command('register')
    .description('register this machine to a vault with a credentials file (`ferry vault credentials`); afterwards commands need no -r')
    .requiredOption('--credentials <FILE>', 'the vault credentials file')
    .option('--password-file <FILE>', 'read the repository passphrase from FILE (or FERRY_PASSWORD); at least 16 characters')
    .option('--json', 'machine-readable output')
    .action((opts: RegisterOptions) => run(import('../commands/register.js').then((m) => m.registerCommand(ctx, opts))));
}

/** Adds `ferry schedule set|show` (wired in cli/main.ts). */
export function registerSchedule(program: Command, ctx: CliContext, run: Runner): void {
  const schedule = program.command('schedule').description("this machine's daily backup to its vault (after `ferry register`)");
  const count = (what: string): string => `after each scheduled backup keep ${what}`;
  schedule
    .command('set')
    .description('set what to back up, when, and how long to keep scheduled snapshots; `ferry agent run` carries it out')
    .requiredOption('--paths <PATH...>', 'files and folders to back up')
    .requiredOption('--daily <HH:MM>', 'time of day, local time, 24-hour clock')
    .option('--exclude <PATTERN>', "leave out paths matching PATTERN, as `ferry backup --exclude` (restic's meaning; repeatable)", collect)
    .option('--keep-last <N>', count('the N newest'), parseScheduleCount)
    .option('--keep-hourly <N>', count('one per hour for N hours'), parseScheduleCount)
    .option('--keep-daily <N>', count('one per day for N days'), parseScheduleCount)
    .option('--keep-weekly <N>', count('one per week for N weeks'), parseScheduleCount)
    .option('--keep-monthly <N>', count('one per month for N months'), parseScheduleCount)
    .option('--keep-yearly <N>', count('one per year for N years'), parseScheduleCount)
    .option('--keep-within <DURATION>', 'keep snapshots newer than DURATION (e.g. 30d)')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nThe service applies the retention rules to scheduled snapshots only, and never removes one younger than 7 days.\n')
    .action((opts: ScheduleSetOptions) => run(import('../commands/schedule.js').then((m) => m.scheduleSetCommand(ctx, opts))));
  schedule
    .command('show')
    .description('show the schedule')
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }) => run(import('../commands/schedule.js').then((m) => m.scheduleShowCommand(ctx, opts))));
}

/** Adds `ferry agent run` (wired in cli/main.ts). */
export function registerAgent(program: Command, ctx: CliContext, run: (action: Promise<number>) => Promise<void>): void {
  program
    .command('agent')
    .description('the long-running agent of a registered machine')
    .command('run')
    .description('run the scheduled backups and retention until stopped (SIGTERM/SIGINT); catches up a missed run at start')
    .option('--password-file <FILE>', 'read the passphrase from FILE (or FERRY_PASSWORD)')
    .action((opts: AgentRunOptions) => run(import('../commands/agent.js').then((m) => m.agentRunCommand(ctx, opts))));
}

/** Adds `ferry seed start|plan|status|cleanup|abandon` (wired in cli/main.ts). */
export function registerSeed(program: Command, ctx: CliContext, run: Runner): void {
  const seed = program.command('seed').description('offline seeding: the first full backup travels on shipped disks');
  seed
    .command('start')
    .description('send backups to a staging location, to be copied onto disks (`ferry diskprep`) and shipped')
    .requiredOption('--staging <DIR>', 'an empty folder with room for the initial backup (a local disk or a share the copy computer sees)')
    .requiredOption('--storage-account <SA>', 'the storage account (of the vault\'s tenant) the datacenter imports into')
    .requiredOption('--container <C>', 'the container of that storage account for the import')
    .requiredOption('--job <JOB>', 'a name for the import job, unused in the tenant')
    .option('--paths <PATH...>', 'the sources (default: those of `ferry schedule set`)', collect)
    .option('--password-file <FILE>', 'read the passphrase from FILE (or FERRY_PASSWORD)')
    .option('--json', 'machine-readable output')
    .action((opts: SeedStartOptions) => run(import('../commands/seed.js').then((m) => m.seedStartCommand(ctx, opts))));
  seed
    .command('plan')
    .description('estimate the first full backup online and on shipped disks, and recommend one')
    .option('--paths <PATH...>', 'the sources, sampled for compression and duplicates', collect)
    .option('--bytes <SIZE>', 'or just their size, e.g. 12TB (assumes no compression)', parsed(parseSize))
    .requiredOption('--uplink <RATE>', 'the upload rate to the service, e.g. 50Mbit or 5MB/s', parsed(parseRate))
    .option('--disk-size <SIZE>', 'capacity of one disk', parsed(parseSize), 8e12)
    .option('--shipping-days <D>', 'days a disk travels to the datacenter', parsed(parseDays), 3)
    .option('--json', 'machine-readable output')
    .action((opts: SeedPlanOptions) => run(import('../commands/seed.js').then((m) => m.seedPlanCommand(ctx, opts))));
  seed
    .command('status')
    .description('the offline seed, its import job and the adoption\'s progress')
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }) => run(import('../commands/seed-adopted.js').then((m) => m.seedStatusCommand(ctx, opts))));
  seed
    .command('cleanup')
    .description('after adoption: check the seeded snapshots in the vault, then delete the import and the staging location')
    .argument('<JOB>', 'the import job (name or id)')
    .option('--yes', 'do not ask (needed without a terminal)')
    .option('--password-file <FILE>', 'read the passphrase from FILE (or FERRY_PASSWORD)')
    .option('--json', 'machine-readable output')
    .action((job: string, opts: SeedCleanupOptions) => run(import('../commands/seed-adopted.js').then((m) => m.seedCleanupCommand(ctx, job, opts))));
  seed
    .command('abandon')
    .description('end a seed whose import job was deleted, cancelled or failed: backups go to the vault online')
    .argument('<JOB>', 'the import job (name or id)')
    .option('--yes', 'do not ask (needed without a terminal)')
    .action((job: string, opts: { yes?: boolean }) => run(import('../commands/seed-adopted.js').then((m) => m.seedAbandonCommand(ctx, job, opts))));
}

/** Adds `ferry diskprep` (wired in cli/main.ts). */
export function registerDiskprep(program: Command, ctx: CliContext, run: Runner): void {
  program
    .command('diskprep')
    .description('copy a staging location onto disks for shipping: encrypted per disk, verified, registered with the import job')
    .requiredOption('--staging <DIR>', 'the staging location (made by `ferry seed start`; holds FERRY-SEED.json)')
    .addOption(new Option('--disk <PATH>', 'a disk: the empty folder it is mounted at (repeatable; filled in order)').argParser(collect).makeOptionMandatory())
    .option('--yes', 'delete what is on non-empty disks without asking')
    .option('--max-bytes-per-disk <N>', 'write at most N bytes per disk (e.g. 500GB, 2TB, 512MiB)', parseMaxBytes)
    .option('--replace-disk <ID>', 'prepare a lost or damaged disk again (its id, or its number) onto the one --disk given, as long as it has not arrived')
    .option('--job <JOB>', "the import job (name or id); must be the staging location's")
    .option('--json', 'machine-readable summary')
    .addHelpText('after', '\nKilled or stopped, the same command resumes. When the disks are full, a terminal asks for another one.\n')
    .action((opts: DiskprepOptions) => run(import('../commands/diskprep.js').then((m) => m.diskprepCommand(ctx, opts))));
}

/** Adds `ferry demo [--keep]` (wired in cli/main.ts). */
export function registerDemo(program: Command, ctx: CliContext, run: Runner): void {
  program
    .command('demo')
    .description('run the whole offline-seeding flow on the embedded default in a temporary folder, narrated step by step')
    .option('--keep', 'keep the temporary folder (service data, staging, disks, restore) and leave the service running, to look at it in the portal')
    .action((opts: DemoCommandOptions) => run(import('../commands/demo.js').then((m) => m.demoCommand(ctx, opts))));
}
