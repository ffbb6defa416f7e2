import { InterruptedError, UserError } from '../../core/errors.js';
import { shortId, type Id } from '../../core/ids.js';
import { pruneRepository, type PruneReport } from '../../engine/prune/prune.js';
import type { Repository } from '../../engine/repository/repository.js';
import type { RepositoryLock } from '../../engine/repository/lock.js';
import { parseGroupBy } from '../../engine/retention/grouping.js';
import { applyPolicy, validatePolicy, type Decision, type GroupDecisions, type RetentionPolicy, type RetentionRules } from '../../engine/retention/policy.js';
import { objectKey } from '../../storage/layout.js';
import { openLockedRepository, type CliContext, type RepoOptions } from '../context.js';
import { unreadableSnapshotLine } from '../damaged-objects.js';
import { pruneSummaryJson } from './prune.js';
import { forgetGroupsJson } from '../restic-json.js';
import { formatBytes } from '../format.js';

export interface ForgetOptions extends RepoOptions, RetentionRules {
  readonly keepTag?: string[];
  readonly host?: string[];
  readonly tag?: string[];
  readonly groupBy?: string;
  readonly dryRun?: boolean;
  readonly prune?: boolean;
}

/**
 * `ferry forget ID…` removes the snapshots named (see {@link forgetByIds}). Otherwise `ferry forget`
 * applies the retention policy, prints per group what is kept (with the reasons) and
 * removed (with --json restic's array of groups, see `forgetGroupsJson`, then with --prune the prune
 * summary line), removes the removed snapshots' objects unless --dry-run, then prunes with --prune. Refuses a
 * policy without any --keep-* rule before asking for the password. A snapshot file that cannot be read
 * is neither kept nor removed by a policy (its time and host are unknown): it is named on stderr with
 * `ferry forget ID` as the remedy. Holds an exclusive lock throughout (exit 11 when another process holds
 * one). Removal is idempotent: re-running after an interruption removes what is left.
 */
export async function forgetCommand(ctx: CliContext, ids: readonly string[], options: ForgetOptions): Promise<number> {
  if (ids.length > 0) return forgetByIds(ctx, ids, options);
  const policy = policyFromOptions(options);
  validatePolicy(policy);
  const dryRun = options.dryRun === true;
  const { repo, lock, target } = await openLockedRepository(ctx, options, 'exclusive');
  const { snapshots, unreadable } = await repo.readSnapshots();
  for (const bad of unreadable) ctx.stderr.write(`warning: ${unreadableSnapshotLine(target, bad)}; the policy leaves it alone\n`);
  const result = applyPolicy(snapshots, policy, new Date(repo.context.clock.now()));
  if (!options.json) printGroups(ctx, result.groups);
  if (!dryRun) await removeSnapshots(ctx, repo, lock, result.remove.map((d) => d.id));
  if (!options.json) {
    const n = plural(result.remove.length, 'snapshot');
    ctx.stdout.write(dryRun ? `would remove ${n} (dry run: nothing was changed)\n` : `removed ${n}\n`);
  }
  const prune = options.prune ? await pruneAfter(ctx, repo, lock, options, result.remove.length) : undefined;
  if (options.json) {
    ctx.stdout.write(JSON.stringify(forgetGroupsJson(result.groups)) + '\n');
    // As `ferry prune --json` prints it, on a line of its own after restic's array.
    if (prune) ctx.stdout.write(JSON.stringify(pruneSummaryJson(prune)) + '\n');
  }
  return 0;
}

/**
 * `ferry forget ID…`: removes the snapshot files named by full id or unique prefix, readable or not
 * (that is how a damaged snapshot file is removed), then prunes with --prune. Ids are matched against the
 * file names, so nothing is opened; a ref that matches no file or several is a `UserError` before anything
 * is removed. Refuses --keep-*, --host and --tag rules (a policy and a list of ids are two different
 * requests) before asking for the password.
 */
async function forgetByIds(ctx: CliContext, refs: readonly string[], options: ForgetOptions): Promise<number> {
  const policy = policyFromOptions(options);
  const rules = Object.entries(policy).some(([field, value]) => field !== 'groupBy' && (Array.isArray(value) ? value.length > 0 : value !== undefined));
  if (rules) throw new UserError('give either snapshot ids or --keep-*/--host/--tag rules, not both: `ferry forget ID…` removes exactly the snapshots named');
  const dryRun = options.dryRun === true;
  const { repo, lock } = await openLockedRepository(ctx, options, 'exclusive');
  const ids = await repo.resolveSnapshotIds(refs);
  if (!dryRun) await removeSnapshots(ctx, repo, lock, ids);
  if (!options.json) {
    for (const id of ids) ctx.stdout.write(`${dryRun ? 'would remove' : 'removed'} snapshot ${shortId(id)}\n`);
    if (dryRun) ctx.stdout.write('dry run: nothing was changed\n');
  }
  const prune = options.prune ? await pruneAfter(ctx, repo, lock, options, ids.length) : undefined;
  if (options.json) {
    // restic prints nothing here; Ferry says what it removed, then the prune summary on a line of its own.
    ctx.stdout.write(JSON.stringify({ message_type: 'forget', dry_run: dryRun, removed: ids }) + '\n');
    if (prune) ctx.stdout.write(JSON.stringify(pruneSummaryJson(prune)) + '\n');
  }
  return 0;
}

/** `--prune`: the prune that follows a forget, under the same lock. */
async function pruneAfter(ctx: CliContext, repo: Repository, lock: RepositoryLock | undefined, options: ForgetOptions, removed: number): Promise<PruneReport> {
  const dryRun = options.dryRun === true;
  if (dryRun && !options.json && removed > 0) {
    ctx.stdout.write('note: the prune dry run still counts the snapshots this dry run would remove as used\n');
  }
  // Progress only on a terminal, overwritten in place; a log or pipe gets the summary line alone.
  const live = ctx.stdout.isTTY && !options.json;
  const prune = await pruneRepository(repo, { dryRun, lock, onProgress: live ? (message) => ctx.stdout.write(`\r\x1b[Kprune: ${message}`) : undefined });
  if (live) ctx.stdout.write('\r\x1b[K');
  if (!options.json) printPrune(ctx, prune);
  return prune;
}

function policyFromOptions(o: ForgetOptions): RetentionPolicy {
  return {
    keepLast: o.keepLast,
    keepHourly: o.keepHourly,
    keepDaily: o.keepDaily,
    keepWeekly: o.keepWeekly,
    keepMonthly: o.keepMonthly,
    keepYearly: o.keepYearly,
    keepWithin: o.keepWithin,
    keepTags: o.keepTag ?? [],
    hosts: o.host ?? [],
    tags: o.tag ?? [],
    groupBy: parseGroupBy(o.groupBy ?? 'host,paths'),
  };
}

async function removeSnapshots(ctx: CliContext, repo: Repository, lock: RepositoryLock | undefined, ids: readonly Id[]): Promise<void> {
  for (const id of ids) {
    // Stop between objects: what was removed stays removed, and a re-run finishes the rest.
    if (ctx.signal.aborted) throw new InterruptedError('interrupted while removing snapshots; run forget again to finish');
    lock?.assertHeld();
    await repo.storage.remove(objectKey('snapshot', id));
  }
}

function printGroups(ctx: CliContext, groups: readonly GroupDecisions[]): void {
  if (groups.length === 0) ctx.stdout.write('no snapshots to consider\n');
  for (const group of groups) {
    ctx.stdout.write(`${group.label === '' ? 'all snapshots' : `snapshots of ${group.label}`}:\n`);
    for (const [verb, list] of [['keep', group.keep], ['remove', group.remove]] as const) {
      if (list.length === 0) continue;
      ctx.stdout.write(`${verb} ${plural(list.length, 'snapshot')}:\n`);
      ctx.stdout.write(`  ${'ID'.padEnd(10)}${'Time'.padEnd(21)}${'Host'.padEnd(16)}${verb === 'keep' ? 'Reasons; ' : ''}Paths [Tags]\n`);
      for (const d of list) ctx.stdout.write(`  ${row(d, verb === 'keep')}\n`);
    }
    ctx.stdout.write('\n');
  }
}

function row({ id, snapshot: s, reasons }: Decision, withReasons: boolean): string {
  const time = s.time.slice(0, 19).replace('T', ' ');
  const tags = s.tags.length > 0 ? ` [${s.tags.join(',')}]` : '';
  const why = withReasons ? `${reasons.join(', ')}; ` : '';
  return `${shortId(id).padEnd(10)}${time.padEnd(21)}${s.hostname.slice(0, 15).padEnd(16)}${why}${s.paths.join(', ')}${tags}`;
}

function printPrune(ctx: CliContext, r: PruneReport): void {
  const verb = r.dryRun ? 'would delete' : 'deleted';
  ctx.stdout.write(
    `prune: ${verb} ${plural(r.packsDeleted, 'pack')}, repacked ${plural(r.packsRepacked, 'pack')}, kept ${plural(r.packsKept, 'pack')}; ` +
      `${r.dryRun ? 'would free' : 'freed'} ${formatBytes(r.bytesFreed)}\n`,
  );
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
