import { UserError } from '../../core/errors.js';
import type { Id } from '../../core/ids.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import { BUCKET_KINDS, bucketOf, type BucketKind } from './buckets.js';
import { isZeroDuration, parseDuration, subtractDuration, type RetentionDuration } from './duration.js';
import {
  DEFAULT_GROUP_BY, groupIdentity, groupKeyOf, groupLabel, hasTagList, matchesFilter,
  type GroupField, type GroupKey, type RetentionFacts, type SnapshotFilter,
} from './grouping.js';

/**
 * Which snapshots `forget` keeps. Every count is a whole number: 0 or absent disables the rule, -1 means
 * unlimited. A snapshot is kept when at least one rule keeps it, and removed otherwise. Rules judge each
 * group (see `groupBy`) on its own, counting from the group's newest snapshot.
 */
export interface RetentionPolicy extends SnapshotFilter {
  /** The n newest snapshots. */
  readonly keepLast?: number;
  /** The newest snapshot of each of the n newest hours (UTC) that have snapshots. */
  readonly keepHourly?: number;
  /** Likewise per UTC day. */
  readonly keepDaily?: number;
  /** Likewise per ISO 8601 week (UTC). */
  readonly keepWeekly?: number;
  /** Likewise per UTC month. */
  readonly keepMonthly?: number;
  /** Likewise per UTC year. */
  readonly keepYearly?: number;
  /**
   * Every snapshot strictly newer than the group's newest snapshot minus this duration (see
   * `parseDuration`). The newest time is capped at `now`, so a snapshot from a clock running ahead
   * cannot push the window past the others.
   */
  readonly keepWithin?: string;
  /** Snapshots matching any of these tag lists (`a` or `a,b` = carrying both) are always kept. */
  readonly keepTags?: readonly string[];
  /** The fields snapshots are grouped by; default host and paths; `[]` judges all snapshots together. */
  readonly groupBy?: readonly GroupField[];
}

/** The counting and duration rules of a policy, without filters, tags or grouping (what a schedule carries). */
export type RetentionRules = Pick<RetentionPolicy, 'keepLast' | 'keepHourly' | 'keepDaily' | 'keepWeekly' | 'keepMonthly' | 'keepYearly' | 'keepWithin'>;

/** A snapshot to judge: its id and what retention looks at (a whole Snapshot, usually). */
export interface RetentionCandidate<S extends RetentionFacts = Snapshot> {
  readonly id: Id;
  readonly snapshot: S;
}

/** The verdict on one snapshot. */
export interface Decision<S extends RetentionFacts = Snapshot> {
  readonly id: Id;
  readonly snapshot: S;
  /** The label of the group it was judged in (see `groupLabel`). */
  readonly group: string;
  /**
   * Why it is kept, in rule order: `last 1` (the newest), `last 2`…, `hourly 2026-11-20T14`,
   * `daily 2026-11-20`, `weekly 2026-W47`, `monthly 2026-11`, `yearly 2026`, `within 7d`, `tag nightly`.
   * Empty for a removed snapshot.
   */
  readonly reasons: readonly string[];
  /** The rules that keep it, in restic's order (tags, within, last, then the buckets); empty when removed. */
  readonly rules: readonly KeepRule[];
  /**
   * What is left of each count rule once this snapshot is judged (restic's `counters`): -1 for an
   * unlimited rule, rules with nothing left (or not given) absent.
   */
  readonly counters: Readonly<Partial<Record<CountRule, number>>>;
}

/** A count rule: `--keep-last` or one of the bucket rules. */
export type CountRule = 'last' | BucketKind;

/** One rule that keeps a snapshot, as data (the `reasons` text says the same for people). */
export type KeepRule =
  | { readonly kind: 'tag'; readonly tags: readonly string[] }
  | { readonly kind: 'within'; readonly duration: string }
  | { readonly kind: CountRule };

/** The decisions of one group, oldest snapshot first. */
export interface GroupDecisions<S extends RetentionFacts = Snapshot> {
  readonly label: string;
  readonly key: GroupKey;
  readonly keep: readonly Decision<S>[];
  readonly remove: readonly Decision<S>[];
}

export interface RetentionResult<S extends RetentionFacts = Snapshot> {
  /** Every kept snapshot, by group (sorted by label), oldest first within a group. */
  readonly keep: readonly Decision<S>[];
  /** Every removed snapshot, in the same order. */
  readonly remove: readonly Decision<S>[];
  /** The same decisions per group; only groups with considered snapshots appear. */
  readonly groups: readonly GroupDecisions<S>[];
}

const COUNTS = {
  keepLast: '--keep-last', keepHourly: '--keep-hourly', keepDaily: '--keep-daily',
  keepWeekly: '--keep-weekly', keepMonthly: '--keep-monthly', keepYearly: '--keep-yearly',
} as const;
const BUCKET_COUNT: Record<BucketKind, keyof typeof COUNTS> = {
  hourly: 'keepHourly', daily: 'keepDaily', weekly: 'keepWeekly', monthly: 'keepMonthly', yearly: 'keepYearly',
};

/**
 * Checks `policy` and returns its `keepWithin` parsed. Throws `UserError` when no rule would keep
 * anything ("no policy given: …", so a typo never deletes every snapshot), when a count is not a whole
 * number ≥ -1, when the duration does not parse, or when a keep-tag is empty. Pure.
 */
export function validatePolicy(policy: RetentionPolicy): { within: RetentionDuration | undefined } {
  for (const [field, flag] of Object.entries(COUNTS) as [keyof typeof COUNTS, string][]) {
    const n = policy[field];
    if (n !== undefined && (!Number.isSafeInteger(n) || n < -1)) {
      throw new UserError(`${flag} ${n} is not a count: give a whole number, or -1 (unlimited) to keep all`);
    }
  }
  if (policy.keepTags?.some((list) => list.split(',').every((t) => t.trim() === ''))) {
    throw new UserError('--keep-tag needs a tag name (or a comma-separated list of tags)');
  }
  const parsed = policy.keepWithin === undefined ? undefined : parseDuration(policy.keepWithin);
  const within = parsed && !isZeroDuration(parsed) ? parsed : undefined;
  const anyCount = Object.keys(COUNTS).some((field) => (policy[field as keyof typeof COUNTS] ?? 0) !== 0);
  if (!anyCount && !within && (policy.keepTags ?? []).length === 0) {
    throw new UserError('no policy given: pass at least one --keep-* option');
  }
  return { within };
}

/**
 * Decides which of `snapshots` to keep and which to remove under `policy`. Snapshots the filters
 * (`hosts`, `tags`) exclude appear in neither list. Pure and deterministic: equal times are ordered
 * by id. `now` only caps the `keepWithin` reference (see there). Throws what {@link validatePolicy} throws.
 */
export function applyPolicy<S extends RetentionFacts>(snapshots: readonly RetentionCandidate<S>[], policy: RetentionPolicy, now: Date): RetentionResult<S> {
  const { within } = validatePolicy(policy);
  const groupBy = policy.groupBy ?? DEFAULT_GROUP_BY;
  const groups = new Map<string, { key: GroupKey; members: RetentionCandidate<S>[] }>();
  for (const record of snapshots) {
    if (!matchesFilter(record.snapshot, policy)) continue;
    const key = groupKeyOf(record.snapshot, groupBy);
    const identity = groupIdentity(key);
    const group = groups.get(identity) ?? { key, members: [] };
    group.members.push(record);
    groups.set(identity, group);
  }
  const judged = [...groups.values()]
    .map(({ key, members }) => judgeGroup(key, members, policy, within, now))
    .sort((a, b) => compareText(a.label, b.label) || compareText(groupIdentity(a.key), groupIdentity(b.key)));
  return {
    keep: judged.flatMap((g) => g.keep),
    remove: judged.flatMap((g) => g.remove),
    groups: judged,
  };
}

function judgeGroup<S extends RetentionFacts>(
  key: GroupKey,
  members: RetentionCandidate<S>[],
  policy: RetentionPolicy,
  within: RetentionDuration | undefined,
  now: Date,
): GroupDecisions<S> {
  const label = groupLabel(key);
  const newestFirst = [...members].sort((a, b) => timeOf(b) - timeOf(a) || compareText(b.id, a.id));
  const buckets = BUCKET_KINDS.map((kind) => ({ kind, left: policy[BUCKET_COUNT[kind]] ?? 0, last: undefined as string | undefined }));
  const newest = newestFirst[0];
  const cutoff = within && newest ? subtractDuration(new Date(Math.min(timeOf(newest), now.getTime())), within).getTime() : undefined;
  const keepLast = policy.keepLast ?? 0;
  const decisions = newestFirst.map((record, position): Decision<S> => {
    const time = new Date(timeOf(record));
    const reasons: string[] = [];
    const counted: KeepRule[] = [];
    const counters: Partial<Record<CountRule, number>> = {};
    if (keepLast === -1 || position < keepLast) {
      reasons.push(`last ${position + 1}`);
      counted.push({ kind: 'last' });
    }
    if (keepLast !== 0) counters.last = keepLast === -1 ? -1 : Math.max(0, keepLast - position - 1);
    for (const bucket of buckets) {
      if (bucket.left === 0) continue;
      const value = bucketOf(bucket.kind, time);
      // Newest first, so the first snapshot seen in a bucket is the newest one there.
      if (value !== bucket.last) {
        bucket.last = value;
        if (bucket.left > 0) bucket.left--;
        reasons.push(`${bucket.kind} ${value}`);
        counted.push({ kind: bucket.kind });
      }
      counters[bucket.kind] = bucket.left;
    }
    const uncounted: KeepRule[] = [];
    const tagLists = (policy.keepTags ?? []).filter((list) => hasTagList(record.snapshot, list));
    for (const list of tagLists) uncounted.push({ kind: 'tag', tags: tagList(list) });
    if (cutoff !== undefined && within && time.getTime() > cutoff) {
      reasons.push(`within ${within.text}`);
      uncounted.push({ kind: 'within', duration: within.text });
    }
    for (const list of tagLists) reasons.push(`tag ${list}`);
    for (const [rule, left] of Object.entries(counters)) if (left === 0) delete counters[rule as CountRule];
    return { id: record.id, snapshot: record.snapshot, group: label, reasons, rules: [...uncounted, ...counted], counters };
  });
  const oldestFirst = decisions.reverse();
  return {
    label,
    key,
    keep: oldestFirst.filter((d) => d.reasons.length > 0),
    remove: oldestFirst.filter((d) => d.reasons.length === 0),
  };
}

function tagList(list: string): string[] {
  return list.split(',').map((t) => t.trim()).filter((t) => t !== '');
}

function timeOf(record: RetentionCandidate<RetentionFacts>): number {
  return Date.parse(record.snapshot.time);
}

/** Code-unit order, independent of the locale. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
