import type { AuditRecord } from '../../service/audit/audit-log.js';
import { MAX_AUDIT_PAGE } from '../../service/audit/audit-query.js';
import type { CliContext } from '../context.js';
import { ServiceClient, type ServiceOptions } from '../service-client.js';
import { parseSince } from '../option-parsers.js';
import { resolveTenant } from '../service-names.js';

export interface AuditListOptions extends ServiceOptions {
  readonly json?: boolean;
  /** An ISO-8601 time, or how long ago (`24h`, `7d`, `2w`), resolved against the clock when the command runs. */
  readonly since?: string;
  readonly action?: string;
  readonly tenant?: string;
  readonly limit: number;
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
