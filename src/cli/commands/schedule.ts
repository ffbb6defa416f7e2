import { lstat } from 'node:fs/promises';
import { UserError } from '../../core/errors.js';
import { formatDailyTime, parseDailyTime } from '../../agent/daily-schedule.js';
import { normalizePaths } from '../../engine/archiver/backup.js';
import { PatternList } from '../../engine/filter/pattern-list.js';
import { validatePolicy, type RetentionRules } from '../../engine/retention/policy.js';
import { readSchedule, requireRegistration, writeSchedule, type LocalSchedule } from '../agent-state.js';
import { activeRegistration } from '../agent-token.js';
import { agentTokenDeps, type CliContext } from '../context.js';
import { ServiceClient } from '../service-client.js';

export interface ScheduleSetOptions extends RetentionRules {
  readonly paths: string[];
  readonly daily: string;
  readonly exclude?: string[];
  readonly json?: boolean;
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
