import { UserError } from '../../core/errors.js';
import { checkRepository, type PackSubset } from '../../engine/checker/checker.js';
import { openLockedRepository, type CliContext, type RepoOptions } from '../context.js';

export interface CheckCommandOptions extends RepoOptions {
  readonly readData?: boolean;
  /** `N%` or `n/t`, as typed; see {@link parseReadDataSubset}. */
  readonly readDataSubset?: string;
}

/**
 * Parses `--read-data-subset`: `N%` with 0 < N ≤ 100 (decimals allowed) or `n/t` with 1 ≤ n ≤ t.
 * Throws `UserError` saying what is accepted.
 */
export function parseReadDataSubset(text: string): PackSubset {
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text);
  if (percent) {
    const value = Number(percent[1]);
    if (value > 0 && value <= 100) return { kind: 'percent', percent: value };
  }
  const part = /^(\d+)\/(\d+)$/.exec(text);
  if (part) {
    const n = Number(part[1]);
    const of = Number(part[2]);
    if (Number.isSafeInteger(of) && n >= 1 && n <= of) return { kind: 'part', n, of };
  }
  throw new UserError(`--read-data-subset "${text}" is not a subset: give a percentage (0% < N ≤ 100%, e.g. 10%) or a part n/t with 1 ≤ n ≤ t (e.g. 2/5)`);
}

/**
 * `ferry check [--read-data | --read-data-subset N%|n/t]`: exit 0 when the repository is sound, 1 with
 * one line per problem otherwise.
 */
export async function checkCommand(ctx: CliContext, options: CheckCommandOptions): Promise<number> {
  const subset = options.readDataSubset === undefined ? undefined : parseReadDataSubset(options.readDataSubset);
  if (subset && options.readData) throw new UserError('give either --read-data or --read-data-subset, not both');
  const reading = (options.readData ?? false) || subset !== undefined;
  const { repo, target } = await openLockedRepository(ctx, options);
  const report = await checkRepository(repo, {
    readData: options.readData ?? false,
    readSubset: subset,
    random: Math.random,
    onProgress: ctx.stdout.isTTY && !options.json ? (done, total) => ctx.stdout.write(`\r\x1b[Kread ${done}/${total} packs`) : undefined,
  });
  if (ctx.stdout.isTTY && !options.json && reading) ctx.stdout.write('\r\x1b[K');
  if (options.json) {
    ctx.stdout.write(
      JSON.stringify({
        message_type: 'summary',
        ok: report.errors.length === 0,
        errors: report.errors,
        warnings: report.warnings,
        pack_problems: report.packProblems,
        unreadable_snapshots: report.unreadableSnapshots.map(({ id, error }) => ({ id, error: error.message })),
        unreadable_index_files: report.unreadableIndexFiles.map(({ id, error }) => ({ id, error: error.message })),
        snapshots: report.snapshotsChecked,
        packs: report.packsChecked,
        packs_read: report.packsRead,
        ...(subset ? { read_data_subset: options.readDataSubset } : {}),
      }) + '\n',
    );
  } else {
    for (const warning of report.warnings) ctx.stdout.write(`warning: ${warning}\n`);
    for (const error of report.errors) ctx.stderr.write(`error: ${error}\n`);
    const read = subset ? `, read ${report.packsRead} of them (subset ${options.readDataSubset})` : options.readData ? `, read ${report.packsRead} packs` : '';
    ctx.stdout.write(`checked ${report.snapshotsChecked} snapshots and ${report.packsChecked} packs${read}: ${report.errors.length === 0 ? 'no errors' : `${report.errors.length} errors`}\n`);
  }
  if (report.errors.length > 0 && !options.json) {
    ctx.stderr.write('ferry: the repository is damaged (see above); snapshots not named are unaffected\n');
    if (target.registration) {
      ctx.stderr.write(
        `ferry: this machine's agent token may only add to the vault: ask a tenant-admin to run the \`forget\` and \`repair\` commands named above, with -r ${target.location}\n`,
      );
    }
  }
  return report.errors.length === 0 ? 0 : 1;
}
