import { checkRepository } from '../../engine/checker/checker.js';
import { openRepository, type CliContext, type RepoOptions } from '../context.js';

export interface CheckCommandOptions extends RepoOptions {
  readonly readData?: boolean;
}

/** `ferry check [--read-data]`: exit 0 when the repository is sound, 1 with one line per problem otherwise. */
export async function checkCommand(ctx: CliContext, options: CheckCommandOptions): Promise<number> {
  const repo = await openRepository(ctx, options);
  const report = await checkRepository(repo, {
    readData: options.readData ?? false,
    onProgress: ctx.stdout.isTTY && !options.json ? (done, total) => ctx.stdout.write(`\r\x1b[Kread ${done}/${total} packs`) : undefined,
  });
  if (ctx.stdout.isTTY && !options.json && options.readData) ctx.stdout.write('\r\x1b[K');
  if (options.json) {
    ctx.stdout.write(JSON.stringify({ message_type: 'summary', ok: report.errors.length === 0, errors: report.errors, warnings: report.warnings, pack_problems: report.packProblems, snapshots: report.snapshotsChecked, packs: report.packsChecked, packs_read: report.packsRead }) + '\n');
  } else {
    for (const warning of report.warnings) ctx.stdout.write(`warning: ${warning}\n`);
    for (const error of report.errors) ctx.stderr.write(`error: ${error}\n`);
    const read = options.readData ? `, read ${report.packsRead} packs` : '';
    ctx.stdout.write(`checked ${report.snapshotsChecked} snapshots and ${report.packsChecked} packs${read}: ${report.errors.length === 0 ? 'no errors' : `${report.errors.length} errors`}\n`);
  }
  if (report.errors.length > 0 && !options.json) {
    ctx.stderr.write('ferry: the repository is damaged (see above); snapshots not named are unaffected\n');
  }
  return report.errors.length === 0 ? 0 : 1;
}
