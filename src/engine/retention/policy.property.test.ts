import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { SnapshotRecord } from '../repository/repository.js';
import { DEFAULT_GROUP_BY, groupIdentity, groupKeyOf, matchesFilter, type GroupField } from './grouping.js';
import { applyPolicy, type RetentionPolicy } from './policy.js';
import { fixtureSnapshot, FIXTURE_NOW } from './testing/retention-fixture.js';

const HOUR = 3_600_000;
const START = Date.parse('2024-11-21T00:00:00Z');

/** Up to 40 snapshots over two years on three hosts, three path sets and a few tags; unique ids. */
const snapshotsArb: fc.Arbitrary<SnapshotRecord[]> = fc
  .array(
    fc.record({
      hour: fc.integer({ min: 0, max: 2 * 365 * 24 }),
      minute: fc.integer({ min: 0, max: 59 }),
      host: fc.constantFrom('a', 'b', 'c'),
      paths: fc.constantFrom(['/x'], ['/y'], ['/y', '/x'], ['/x', '/y']),
      tags: fc.subarray(['t1', 't2', 't3']),
    }),
    { maxLength: 40 },
  )
  .map((specs) =>
    specs.map((s, i) => fixtureSnapshot(`s${i}`, new Date(START + s.hour * HOUR + s.minute * 60_000).toISOString(), s.host, s.paths, s.tags)),
  );

const count = fc.oneof(fc.constant(0), fc.constant(-1), fc.integer({ min: 1, max: 6 }));
const groupByArb = fc.constantFrom<readonly GroupField[]>(DEFAULT_GROUP_BY, [], ['host'], ['tags'], ['host', 'paths', 'tags']);

/** Policies with at least one rule that keeps something, and optional filters. */
const policyArb: fc.Arbitrary<RetentionPolicy> = fc
  .record({
    keepLast: count, keepHourly: count, keepDaily: count, keepWeekly: count, keepMonthly: count, keepYearly: count,
    keepWithin: fc.option(fc.constantFrom('1h', '36h', '7d', '2w', '3m', '1y6m'), { nil: undefined }),
    keepTags: fc.subarray(['t1', 't2', 't1,t2']),
    groupBy: groupByArb,
    hosts: fc.subarray(['a', 'b']),
    tags: fc.subarray(['t1', 't3', '']),
  })
  .filter((p) => [p.keepLast, p.keepHourly, p.keepDaily, p.keepWeekly, p.keepMonthly, p.keepYearly].some((n) => n !== 0) || p.keepWithin !== undefined || p.keepTags.length > 0);

const ids = (list: readonly { id: string }[]): string[] => list.map((d) => d.id).sort();

describe('applyPolicy properties', () => {
  it('every considered snapshot is kept or removed, never both; excluded ones are in neither list', () => {
    fc.assert(
      fc.property(snapshotsArb, policyArb, (snapshots, policy) => {
        const result = applyPolicy(snapshots, policy, FIXTURE_NOW);
        const kept = new Set(ids(result.keep));
        assert.ok(result.remove.every((d) => !kept.has(d.id)), 'kept and removed are disjoint');
        const considered = snapshots.filter((r) => matchesFilter(r.snapshot, policy)).map((r) => r.id).sort();
        assert.deepEqual([...ids(result.keep), ...ids(result.remove)].sort(), considered);
        assert.ok(result.keep.every((d) => d.reasons.length > 0) && result.remove.every((d) => d.reasons.length === 0));
      }),
      { numRuns: 300 },
    );
  });

  it('with keepLast n >= 1 the newest snapshot of every group is kept, and keepLast alone keeps min(n, size)', () => {
    fc.assert(
      fc.property(snapshotsArb, policyArb, fc.integer({ min: 1, max: 5 }), (snapshots, base, n) => {
        const policy = { ...base, keepLast: n };
        const result = applyPolicy(snapshots, policy, FIXTURE_NOW);
        const alone = applyPolicy(snapshots, { keepLast: n, groupBy: policy.groupBy, hosts: policy.hosts, tags: policy.tags }, FIXTURE_NOW);
        for (const [g, group] of result.groups.entries()) {
          const all = [...group.keep, ...group.remove].sort((a, b) => Date.parse(b.snapshot.time) - Date.parse(a.snapshot.time) || (a.id < b.id ? 1 : -1));
          assert.ok(group.keep.some((d) => d.id === all[0]!.id), 'the newest is kept');
          assert.equal(alone.groups[g]!.keep.length, Math.min(n, all.length));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('filters never remove the snapshots they exclude', () => {
    fc.assert(
      fc.property(snapshotsArb, policyArb, (snapshots, policy) => {
        const excluded = new Set(snapshots.filter((r) => !matchesFilter(r.snapshot, policy)).map((r) => r.id));
        const result = applyPolicy(snapshots, policy, FIXTURE_NOW);
        assert.ok(result.remove.every((d) => !excluded.has(d.id)));
        assert.ok(result.keep.every((d) => !excluded.has(d.id)));
      }),
      { numRuns: 200 },
    );
  });

  it('each group holds exactly the snapshots sharing its key', () => {
    fc.assert(
      fc.property(snapshotsArb, policyArb, (snapshots, policy) => {
        const groupBy = policy.groupBy ?? DEFAULT_GROUP_BY;
        for (const group of applyPolicy(snapshots, policy, FIXTURE_NOW).groups) {
          for (const d of [...group.keep, ...group.remove]) assert.equal(groupIdentity(groupKeyOf(d.snapshot, groupBy)), groupIdentity(group.key));
        }
      }),
      { numRuns: 100 },
    );
  });

  it('is idempotent: applying the policy again to what it kept removes nothing', () => {
    fc.assert(
      fc.property(snapshotsArb, policyArb, (snapshots, policy) => {
        const keptIds = new Set(ids(applyPolicy(snapshots, policy, FIXTURE_NOW).keep));
        const remaining = snapshots.filter((r) => keptIds.has(r.id) || !matchesFilter(r.snapshot, policy));
        assert.deepEqual(applyPolicy(remaining, policy, FIXTURE_NOW).remove, []);
      }),
      { numRuns: 300 },
    );
  });

  it('does not depend on the order of its input', () => {
    fc.assert(
      fc.property(snapshotsArb, policyArb, fc.func(fc.integer()), (snapshots, policy, rank) => {
        const shuffled = [...snapshots].sort((a, b) => rank(a.id) - rank(b.id));
        assert.deepEqual(applyPolicy(shuffled, policy, FIXTURE_NOW), applyPolicy(snapshots, policy, FIXTURE_NOW));
      }),
      { numRuns: 100 },
    );
  });
});
