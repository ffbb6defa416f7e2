import { RepositoryMissingError, UserError } from '../../core/errors.js';
import { runAgentLoop, sleep } from '../../agent/agent-loop.js';
import { nextSlot, parseDailyTime } from '../../agent/daily-schedule.js';
import { Repository } from '../../engine/repository/repository.js';
import { readLastSlot, readSchedule, vaultLocation, writeLastSlot } from '../agent-state.js';
import { activeRegistration } from '../agent-token.js';
import { agentTarget, agentTokenDeps, openTargetStorage, type CliContext } from '../context.js';
import { readPassword } from '../password.js';
import { ServiceClient } from '../service-client.js';
import { reportedBackup } from './backup.js';

export interface AgentRunOptions {
  readonly passwordFile?: string;
}

/**
 * `ferry agent run`: checks the passphrase once, then runs each day's scheduled backup (reported to the
 * service as a scheduled run) followed by the service-side retention, and sleeps in between. Each run
 * takes and releases its own lock. SIGTERM or SIGINT stop it cleanly: a backup in progress is interrupted
 * (no snapshot, its slot stays due) and the command exits 0.
 */
export async function agentRunCommand(ctx: CliContext, options: AgentRunOptions): Promise<number> {
  const registration = await activeRegistration(agentTokenDeps(ctx));
  if (options.passwordFile === undefined && ctx.env.FERRY_PASSWORD === undefined) {
    throw new UserError('`ferry agent run` runs unattended: give the passphrase with --password-file FILE or FERRY_PASSWORD');
  }
  const password = await readPassword({ passwordFile: options.passwordFile, env: ctx.env, stdin: ctx.stdin, stderr: ctx.stderr });
  // Fail now, not at the first slot, when the passphrase or the vault is wrong. With a pending seed that
  // is staging; once its staging is removed (the import can be adopted without it), the vault, which
  // shares its keys.
  const target = await agentTarget(ctx, registration);
  try {
    await Repository.open(await openTargetStorage(ctx, target), password, ctx.repoContext);
  } catch (err) {
    if (!(target.seed && err instanceof RepositoryMissingError)) throw err;
    await Repository.open(await openTargetStorage(ctx, { location: vaultLocation(registration), token: registration.token, registration }), password, ctx.repoContext);
  }

  const clock = ctx.repoContext.clock;
  const log = (message: string): void => void ctx.stdout.write(`${new Date(clock.now()).toISOString()} ${message}\n`);
  log(`ferry agent: ${registration.machine.hostname} backs up to vault "${registration.vault.name}" of ${registration.tenant.name}`);
  let announced: number | undefined;

  await runAgentLoop(
    {
      clock,
      sleep: (ms, signal) => {
        void announceNext();
        return sleep(ms, signal);
      },
      loadSchedule: async () => {
        const schedule = await readSchedule(ctx.env);
        return schedule && { daily: parseDailyTime(schedule.daily), since: schedule.since };
      },
      loadLastSlot: () => readLastSlot(ctx.env),
      saveLastSlot: (slot) => writeLastSlot(ctx.env, slot),
      runSlot: async (slot) => {
        const schedule = await readSchedule(ctx.env);
        if (!schedule) return;
        log(`scheduled backup of ${new Date(slot).toISOString()}: ${schedule.paths.join(', ')}`);
        // Each run has its own cleanups (lock, connections), released when it ends, not at exit.
        const runCtx: CliContext = { ...ctx, cleanups: [] };
        // Checked per run, and renewed when due: the agent runs for months, its token expires.
        const current = await activeRegistration(agentTokenDeps(ctx));
        try {
          // Resolved per run: a seed started or adopted meanwhile changes where backups go.
          const target = await agentTarget(runCtx, current);
          const code = await reportedBackup(runCtx, schedule.paths, { tag: ['scheduled'], exclude: schedule.excludes, passwordFile: options.passwordFile }, 'scheduled', target);
          log(code === 0 ? 'backup finished' : 'backup finished, but some files could not be read (reported to the service)');
        } finally {
          for (const cleanup of runCtx.cleanups) await cleanup().catch(() => undefined);
        }
        if (schedule.retention && (await agentTarget(ctx, current)).seed) {
          log('retention waits until the offline seed is adopted (its snapshots are in staging, not in the vault)');
        } else if (schedule.retention) {
          const client = ServiceClient.forAgent(ctx, current);
          const outcome = await client.request<{ kept: string[]; forgotten: string[]; protected: string[] }>('POST', `/v1/vaults/${encodeURIComponent(current.vault.id)}/retention`);
          log(`retention: ${outcome.kept.length + outcome.protected.length} scheduled snapshots kept, ${outcome.forgotten.length} removed`);
        }
      },
      log,
    },
    ctx.signal,
  );
  log('ferry agent: stopped');
  return 0;

  /** Says once per slot when the next backup is due, so the log shows the agent is alive and what it waits for. */
  async function announceNext(): Promise<void> {
    const schedule = await readSchedule(ctx.env);
    if (!schedule) return;
    const next = nextSlot(clock.now(), parseDailyTime(schedule.daily));
    if (next === announced) return;
    announced = next;
    log(`next backup at ${new Date(next).toISOString()}`);
  }
}
