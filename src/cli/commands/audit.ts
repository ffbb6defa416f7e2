import { InvalidArgumentError, Option, type Command } from 'commander';
import { AUDIT_ACTIONS, type AuditRecord } from '../../service/audit/audit-log.js';
import { MAX_AUDIT_PAGE } from '../../service/audit/audit-query.js';
import { serviceCommand, type Runner } from '../command-kit.js';
import type { CliContext } from '../context.js';
import { ServiceClient, type ServiceOptions } from '../service-client.js';
import { resolveTenant } from '../service-names.js';

export interface AuditListOptions extends ServiceOptions {
  readonly json?: boolean;
  /** An ISO-8601 time, or how long ago (`24h`, `7d`, `2w`), resolved against the clock when the command runs. */
  readonly since?: string;
  readonly action?: string;
  readonly tenant?: string;
  readonly limit: number;
}

/** How many records `ferry audit list` shows unless told. */
export const DEFAULT_AUDIT_LIST_LIMIT = 100;

/** Adds `ferry audit list` to the program. */
export function registerAudit(program: Command, ctx: CliContext, run: Runner): void {
  const audit = program.command('audit').description('the audit log of privileged acts (admin, tenant-admin)');
  serviceCommand(audit, 'list', "list privileged acts, newest first (a tenant-admin sees its tenant's)")
    // Checked here so a bad value is refused like any bad option; resolved against the clock when the command runs.
    .option('--since <WHEN>', 'only acts at or after WHEN: an ISO time (2026-11-25T00:00:00Z) or an age (12h, 7d, 2w)', (value: string) => (parseSince(value, 0), value))
    .addOption(new Option('--action <ACTION>', 'only this kind of act').choices(AUDIT_ACTIONS))
    .option('--tenant <TENANT>', "only this tenant's acts (name or id; an admin)")
    .option('--limit <N>', `show at most N acts (default ${DEFAULT_AUDIT_LIST_LIMIT})`, parseLimit, DEFAULT_AUDIT_LIST_LIMIT)
    .action((opts: AuditListOptions) => run(auditListCommand(ctx, opts)));
}

/**
 * `ferry audit list`: up to `--limit` records, newest first, fetched page by page; a table (time, actor,
 * action, target, outcome, detail), or with --json the array of records as the API gives them.
 */
export async function auditListCommand(ctx: CliContext, options: AuditListOptions): Promise<number> {
  const client = ServiceClient.fromOptions(ctx, options);
  const since = options.since !== undefined ? parseSince(options.since, ctx.repoContext.clock.now()) : undefined;
  const tenant = options.tenant !== undefined ? await resolveTenant(client, options.tenant) : undefined;
  const records: AuditRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listAudit({
      ...(since !== undefined ? { since } : {}),
      ...(options.action !== undefined ? { action: options.action } : {}),
      ...(tenant !== undefined ? { tenantId: tenant.id } : {}),
      limit: Math.min(options.limit - records.length, MAX_AUDIT_PAGE),
      ...(cursor !== undefined ? { cursor } : {}),
    });
    records.push(...page.records);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined && records.length < options.limit);
  if (options.json) {
    ctx.stdout.write(JSON.stringify(records) + '\n');
    return 0;
  }
  ctx.stdout.write(`${'Time'.padEnd(26)}${'Actor'.padEnd(52)}${'Action'.padEnd(24)}${'Target'.padEnd(56)}${'Outcome'.padEnd(9)}Detail\n`);
  for (const r of records) {
    const target = `${r.target.type} ${r.target.id ?? '-'}`;
    ctx.stdout.write(`${r.at.padEnd(26)}${r.actor.padEnd(52)}${r.action.padEnd(24)}${target.padEnd(56)}${r.outcome.padEnd(9)}${formatDetail(r.detail)}\n`);
  }
  if (cursor !== undefined) ctx.stderr.write(`showing the newest ${records.length}; older acts exist (raise --limit or narrow with --since)\n`);
  return 0;
}

/** `key=value` pairs on one line; lists are joined with commas. */
export function formatDetail(detail: AuditRecord['detail']): string {
  return Object.entries(detail)
    .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join(',') : String(value)}`)
    .join(' ');
}

const AGE_UNITS_MS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** `--since`: an ISO-8601 time with its offset, or an age `<n><m|h|d|w>` before `now`; answers ISO-8601 UTC. */
export function parseSince(value: string, now: number): string {
  const age = /^([1-9][0-9]{0,5})([mhdw])$/.exec(value);
  if (age !== null) return new Date(now - Number(age[1]) * AGE_UNITS_MS[age[2]!]!).toISOString();
  const time = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value) || Number.isNaN(time)) {
    throw new InvalidArgumentError(`expected an ISO time such as 2026-11-25T00:00:00Z, or an age such as 12h, 7d or 2w`);
  }
  return new Date(time).toISOString();
}

function parseLimit(value: string): number {
  if (!/^[1-9][0-9]{0,5}$/.test(value)) throw new InvalidArgumentError('expected a whole number from 1 to 999999');
  return Number(value);
}
