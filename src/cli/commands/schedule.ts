import { lstat } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { UserError } from '../../core/errors.js';
import { formatDailyTime, parseDailyTime } from '../../agent/daily-schedule.js';
import { normalizePaths } from '../../engine/archiver/backup.js';
import { PatternList } from '../../engine/filter/pattern-list.js';
import { validatePolicy, type RetentionRules } from '../../engine/retention/policy.js';
import { readSchedule, requireRegistration, writeSchedule, type LocalSchedule } from '../agent-state.js';
import { collect, type Runner } from '../command-kit.js';
import { activeRegistration } from '../agent-token.js';
import { agentTokenDeps, type CliContext } from '../context.js';
import { ServiceClient } from '../service-client.js';
import { parseCount } from './forget.js';

export interface ScheduleSetOptions extends RetentionRules {
  readonly paths: string[];
  readonly daily: string;
  readonly exclude?: string[];
  readonly json?: boolean;
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
    .action((opts: ScheduleSetOptions) => run(scheduleSetCommand(ctx, opts)));
  schedule
    .command('show')
    .description('show the schedule')
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }) => run(scheduleShowCommand(ctx, opts)));
}

/** A schedule's --keep-* count: a whole number; "all" is no rule at all, which the service also insists on. */
function parseScheduleCount(value: string): number {
  const count = parseCount(value);
  if (count < 0) throw new InvalidArgumentError('give a whole number of 0 or more; to keep every scheduled snapshot, leave the rule out');
  return count;
}

/**
 * `ferry schedule set`: checks the paths and rules, stores the schedule in FERRY_STATE_DIR and tells the
 * service the time and retention rules (never the paths). Slots before now are never run.
 */
export async function scheduleSetCommand(ctx: CliContext, options: ScheduleSetOptions): Promise<number> {
  const registration = await activeRegistration(agentTokenDeps(ctx));
  const daily = formatDailyTime(parseDailyTime(options.daily));
  const paths = normalizePaths(options.paths);
  // An invalid pattern is refused now, not at 02:30.
  new PatternList(options.exclude ?? []);
  for (const path of paths) {
    try {
      await lstat(path);
    } catch (err) {
      throw new UserError(`cannot schedule ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (err as Error).message}`);
    }
  }
  const rules: RetentionRules = {
    keepLast: options.keepLast,
    keepHourly: options.keepHourly,
    keepDaily: options.keepDaily,
    keepWeekly: options.keepWeekly,
    keepMonthly: options.keepMonthly,
    keepYearly: options.keepYearly,
    keepWithin: options.keepWithin,
  };
  const given: RetentionRules = Object.fromEntries(Object.entries(rules).filter(([, value]) => value !== undefined));
  if (Object.keys(given).length > 0) validatePolicy(given);
  const retention = Object.keys(given).length > 0 ? given : null;
  const schedule: LocalSchedule = { paths, daily, excludes: options.exclude ?? [], retention, since: ctx.repoContext.clock.now() };

  const client = ServiceClient.forAgent(ctx, registration);
  await client.request('PUT', `/v1/vaults/${encodeURIComponent(registration.vault.id)}/schedule`, { daily, retention });
  await writeSchedule(ctx.env, schedule);
  if (options.json) ctx.stdout.write(JSON.stringify({ message_type: 'schedule', ...schedule }) + '\n');
  else printSchedule(ctx, schedule);
  return 0;
}

export async function scheduleShowCommand(ctx: CliContext, options: { json?: boolean }): Promise<number> {
  await requireRegistration(ctx.env);
  const schedule = await readSchedule(ctx.env);
  if (options.json) {
    ctx.stdout.write(JSON.stringify(schedule ?? null) + '\n');
  } else if (!schedule) {
    ctx.stdout.write('no schedule: set one with `ferry schedule set --paths PATH… --daily HH:MM`\n');
  } else {
    printSchedule(ctx, schedule);
  }
  return 0;
}

function printSchedule(ctx: CliContext, schedule: LocalSchedule): void {
  ctx.stdout.write(`daily at ${schedule.daily} (local time): ${schedule.paths.join(', ')}\n`);
  if (schedule.excludes.length > 0) ctx.stdout.write(`excluding ${schedule.excludes.join(', ')}\n`);
  const rules = Object.entries(schedule.retention ?? {}).map(([rule, value]) => `${rule.replace(/^keep/, 'keep-').toLowerCase()} ${String(value)}`);
  ctx.stdout.write(rules.length > 0 ? `retention: ${rules.join(', ')} (scheduled snapshots; none younger than 7 days is removed)\n` : 'retention: keep everything\n');
  ctx.stdout.write('`ferry agent run` carries it out (see docs/agent.md for a systemd unit)\n');
}
