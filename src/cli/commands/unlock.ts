import { shortId } from '../../core/ids.js';
import { formatAge } from '../../engine/repository/lock.js';
import { removeLocks, type LockReport } from '../../engine/repository/lock-removal.js';
import { lockTimingFromEnv, openRepository, type CliContext, type RepoOptions } from '../context.js';

export interface UnlockOptions extends RepoOptions {
  readonly removeAll?: boolean;
}

/**
 * `ferry unlock`: removes stale locks and lists each with its holder and age; `--remove-all` removes
 * every lock after a warning on stderr. Takes no lock itself. Exit 0, also when there was nothing to
 * remove.
 */
export async function unlockCommand(ctx: CliContext, options: UnlockOptions): Promise<number> {
  const all = options.removeAll === true;
  const repo = await openRepository(ctx, options, false);
  if (all) {
    ctx.stderr.write(
      'warning: removing every lock, also those of processes that may still run: make sure no ferry process uses this ' +
        'repository (a running one stops without saving when it notices)\n',
    );
  }
  const { staleMs } = lockTimingFromEnv(ctx.env);
  const result = await removeLocks(repo, { all, ...(staleMs ? { staleMs } : {}) });
  const now = ctx.repoContext.clock.now();
  if (options.json) {
    ctx.stdout.write(JSON.stringify({ removed: result.removed.map((r) => jsonReport(r, now)), kept: result.kept.map((r) => jsonReport(r, now)) }) + '\n');
    return 0;
  }
  for (const report of result.removed) ctx.stdout.write(`removed ${describe(report, now)}\n`);
  for (const report of result.kept) ctx.stdout.write(`kept ${describe(report, now)}\n`);
  const kept = result.kept.length > 0 ? `; kept ${plural(result.kept.length, 'lock')} (run \`ferry unlock --remove-all\` if its process is gone)` : '';
  ctx.stdout.write(`removed ${plural(result.removed.length, all ? 'lock' : 'stale lock')}${kept}\n`);
  return 0;
}

function describe(report: LockReport, now: number): string {
  const d = report.document;
  if (!d) return `unreadable lock ${shortId(report.id)} (${report.error ?? 'unknown error'})`;
  const why = report.staleReason === 'process-gone' ? ': its process is gone' : report.staleReason === 'expired' ? ': not refreshed in time' : '';
  return (
    `${report.staleReason ? 'stale ' : ''}${d.exclusive ? 'exclusive' : 'shared'} lock ${shortId(report.id)} of PID ${d.pid} on ${d.hostname} ` +
    `(user ${d.username}), last refreshed ${d.time}, ${formatAge(now - Date.parse(d.time))} ago${why}`
  );
}

function jsonReport(report: LockReport, now: number): Record<string, unknown> {
  const d = report.document;
  if (!d) return { id: report.id, short_id: shortId(report.id), error: report.error };
  return {
    id: report.id,
    short_id: shortId(report.id),
    exclusive: d.exclusive,
    hostname: d.hostname,
    username: d.username,
    pid: d.pid,
    time: d.time,
    age_seconds: Math.max(0, Math.floor((now - Date.parse(d.time)) / 1000)),
    stale_reason: report.staleReason ?? null,
  };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
