import type { BackupRunReport } from '../service/resources/backup-runs.js';
import { readRegistration, type AgentRegistration } from './agent-state.js';
import type { CliContext } from './context.js';
import { ServiceClient } from './service-client.js';

/** As many error lines as the service keeps per run, each cut to its length limit. */
const MAX_ERRORS = 20;
const MAX_ERROR_LENGTH = 500;

/**
 * Reports a backup run of this machine to the service. A report that cannot be delivered is a warning
 * on stderr, never a failure of the backup it describes.
 */
export async function reportBackupRun(ctx: CliContext, registration: AgentRegistration, report: Omit<BackupRunReport, 'errors' | 'errorCount'> & { errors: readonly string[] }): Promise<void> {
  // Read again: another command may have renewed the token while this backup ran.
  const current = (await readRegistration(ctx.env).catch(() => undefined)) ?? registration;
  const client = ServiceClient.forAgent(ctx, current, { signal: null });
  const body: BackupRunReport = {
    ...report,
    errorCount: report.errors.length,
    errors: report.errors.slice(0, MAX_ERRORS).map((line) => (line.length > MAX_ERROR_LENGTH ? `${line.slice(0, MAX_ERROR_LENGTH - 1)}…` : line)),
  };
  try {
    await client.request('POST', `/v1/vaults/${encodeURIComponent(registration.vault.id)}/backup-runs`, body);
  } catch (err) {
    ctx.stderr.write(`warning: the run could not be reported to the service: ${(err as Error).message}\n`);
  }
}
