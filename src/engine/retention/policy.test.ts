import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../../core/errors.js';
import { applyPolicy, type RetentionPolicy } from './policy.js';
import { FIXTURE, FIXTURE_NOW, fixtureSnapshot, nameOf } from './testing/retention-fixture.js';

const ALL = FIXTURE.map((r) => nameOf(r.id));
const names = (prefix: string, from: number, to: number): string[] =>
  Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${String(from + i).padStart(2, '0')}`);

interface Case {
  readonly name: string;
  readonly policy: RetentionPolicy;
  /** Kept snapshots and their reasons, exactly. */
  readonly keep: Record<string, readonly string[]>;
  /** The snapshots the filters let through; removed = these minus the kept ones. Default: all. */
  readonly considered?: readonly string[];
}

const CASES: readonly Case[] = [
  {
    name: 'keepLast 2 per host and paths',
    policy: { keepLast: 2 },
    keep: { w19: ['last 2'], w20: ['last 1'], e2: ['last 2'], e3: ['last 1'], d3: ['last 2'], d4: ['last 1'], l2: ['last 2'], l3: ['last 1'] },
  },
  {
    name: 'keepHourly 3: the newest of each hour, w18 shares w19\'s hour',
    policy: { keepHourly: 3 },
    keep: {
      w17: ['hourly 2026-11-20T00'], w19: ['hourly 2026-11-20T10'], w20: ['hourly 2026-11-20T11'],
      e1: ['hourly 2026-01-10T00'], e2: ['hourly 2026-11-01T00'], e3: ['hourly 2026-11-20T05'],
      d2: ['hourly 2026-02-02T02'], d3: ['hourly 2026-11-10T02'], d4: ['hourly 2026-11-19T04'],
      l1: ['hourly 2025-08-08T12'], l2: ['hourly 2026-08-08T12'], l3: ['hourly 2026-11-20T09'],
    },
  },
  {
    name: 'keepDaily 3: UTC days, so 23:59 and 00:01 are different days',
    policy: { keepDaily: 3 },
    keep: {
      w15: ['daily 2026-11-18'], w16: ['daily 2026-11-19'], w20: ['daily 2026-11-20'],
      e1: ['daily 2026-01-10'], e2: ['daily 2026-11-01'], e3: ['daily 2026-11-20'],
      d2: ['daily 2026-02-02'], d3: ['daily 2026-11-10'], d4: ['daily 2026-11-19'],
      l1: ['daily 2025-08-08'], l2: ['daily 2026-08-08'], l3: ['daily 2026-11-20'],
    },
  },
  {
    name: 'keepWeekly 3: ISO weeks starting on Monday',
    policy: { keepWeekly: 3 },
    keep: {
      w11: ['weekly 2026-W45'], w13: ['weekly 2026-W46'], w20: ['weekly 2026-W47'],
      e1: ['weekly 2026-W02'], e2: ['weekly 2026-W44'], e3: ['weekly 2026-W47'],
      d2: ['weekly 2026-W06'], d3: ['weekly 2026-W46'], d4: ['weekly 2026-W47'],
      l1: ['weekly 2025-W32'], l2: ['weekly 2026-W32'], l3: ['weekly 2026-W47'],
    },
  },
  {
    name: 'keepWeekly unlimited: 2025-12-31 belongs to 2026-W01, 2025-06-30 to the week of 07-01',
    policy: { keepWeekly: -1 },
    keep: {
      w01: ['weekly 2025-W03'], w02: ['weekly 2025-W09'], w04: ['weekly 2025-W27'], w06: ['weekly 2026-W01'],
      w07: ['weekly 2026-W25'], w08: ['weekly 2026-W36'], w09: ['weekly 2026-W44'], w11: ['weekly 2026-W45'],
      w13: ['weekly 2026-W46'], w20: ['weekly 2026-W47'],
      e1: ['weekly 2026-W02'], e2: ['weekly 2026-W44'], e3: ['weekly 2026-W47'],
      d1: ['weekly 2025-W19'], d2: ['weekly 2026-W06'], d3: ['weekly 2026-W46'], d4: ['weekly 2026-W47'],
      l1: ['weekly 2025-W32'], l2: ['weekly 2026-W32'], l3: ['weekly 2026-W47'],
    },
  },
  {
    name: 'keepMonthly 4: months without snapshots are not counted',
    policy: { keepMonthly: 4 },
    keep: {
      w07: ['monthly 2026-06'], w08: ['monthly 2026-09'], w09: ['monthly 2026-10'], w20: ['monthly 2026-11'],
      e1: ['monthly 2026-01'], e3: ['monthly 2026-11'],
      d1: ['monthly 2025-05'], d2: ['monthly 2026-02'], d4: ['monthly 2026-11'],
      l1: ['monthly 2025-08'], l2: ['monthly 2026-08'], l3: ['monthly 2026-11'],
    },
  },
  {
    name: 'keepYearly unlimited: 2025-12-31T23:00Z is 2025 in UTC',
    policy: { keepYearly: -1 },
    keep: {
      w05: ['yearly 2025'], w20: ['yearly 2026'], e3: ['yearly 2026'],
      d1: ['yearly 2025'], d4: ['yearly 2026'], l1: ['yearly 2025'], l3: ['yearly 2026'],
    },
  },
  {
    name: 'keepWithin 7d of each group\'s newest snapshot',
    policy: { keepWithin: '7d' },
    keep: { ...within(names('w', 13, 20), '7d'), e3: ['within 7d'], d4: ['within 7d'], l3: ['within 7d'] },
  },
  {
    name: 'keepWithin 1y6m',
    policy: { keepWithin: '1y6m' },
    keep: within([...names('w', 3, 20), 'e1', 'e2', 'e3', 'd2', 'd3', 'd4', 'l1', 'l2', 'l3'], '1y6m'),
  },
  {
    name: 'keepWithin 1h: a snapshot exactly at the boundary is outside',
    policy: { keepWithin: '1h' },
    keep: within(['w19', 'w20', 'e3', 'd4', 'l3'], '1h'),
  },
  {
    name: 'keepWithin 36h',
    policy: { keepWithin: '36h' },
    keep: within([...names('w', 16, 20), 'e3', 'd4', 'l3'], '36h'),
  },
  {
    name: 'keepTags nightly',
    policy: { keepTags: ['nightly'] },
    keep: { w07: ['tag nightly'], w18: ['tag nightly'], d1: ['tag nightly'], d3: ['tag nightly'] },
  },
  {
    name: 'keepTags: a list needs all its tags; several lists are alternatives',
    policy: { keepTags: ['db,nightly', 'manual'] },
    keep: { d3: ['tag db,nightly'], l1: ['tag manual'] },
  },
  {
    name: 'last + daily + monthly + tag: reasons accumulate in rule order',
    policy: { keepLast: 1, keepDaily: 2, keepMonthly: 2, keepTags: ['important'] },
    keep: {
      w09: ['monthly 2026-10'], w13: ['tag important'], w16: ['daily 2026-11-19'], w20: ['last 1', 'daily 2026-11-20', 'monthly 2026-11'],
      e1: ['monthly 2026-01'], e2: ['daily 2026-11-01'], e3: ['last 1', 'daily 2026-11-20', 'monthly 2026-11'],
      d2: ['monthly 2026-02'], d3: ['daily 2026-11-10'], d4: ['last 1', 'daily 2026-11-19', 'monthly 2026-11'],
      l2: ['daily 2026-08-08', 'monthly 2026-08'], l3: ['last 1', 'daily 2026-11-20', 'monthly 2026-11'],
    },
  },
  {
    name: 'weekly + yearly + within',
    policy: { keepWeekly: 2, keepYearly: 2, keepWithin: '2d' },
    keep: {
      w05: ['yearly 2025'], w13: ['weekly 2026-W46'], ...within(names('w', 15, 19), '2d'),
      w20: ['weekly 2026-W47', 'yearly 2026', 'within 2d'],
      e2: ['weekly 2026-W44'], e3: ['weekly 2026-W47', 'yearly 2026', 'within 2d'],
      d1: ['yearly 2025'], d3: ['weekly 2026-W46'], d4: ['weekly 2026-W47', 'yearly 2026', 'within 2d'],
      l1: ['yearly 2025'], l2: ['weekly 2026-W32'], l3: ['weekly 2026-W47', 'yearly 2026', 'within 2d'],
    },
  },
  {
    name: 'group-by \'\': one group for everything',
    policy: { keepLast: 3, groupBy: [] },
    keep: { w18: ['last 3'], w19: ['last 2'], w20: ['last 1'] },
  },
  {
    name: 'group-by host',
    policy: { keepLast: 1, groupBy: ['host'] },
    keep: { w20: ['last 1'], d4: ['last 1'], l3: ['last 1'] },
  },
  {
    name: 'group-by tags: untagged snapshots form a group too',
    policy: { keepLast: 1, groupBy: ['tags'] },
    keep: { w13: ['last 1'], w18: ['last 1'], w20: ['last 1'], d3: ['last 1'], l1: ['last 1'] },
  },
  {
    name: 'host filter: other hosts are not considered',
    policy: { keepLast: 1, hosts: ['db'] },
    considered: ['d1', 'd2', 'd3', 'd4'],
    keep: { d4: ['last 1'] },
  },
  {
    name: 'tag filter',
    policy: { keepLast: 1, tags: ['nightly'] },
    considered: ['w07', 'w18', 'd1', 'd3'],
    keep: { w18: ['last 1'], d3: ['last 1'] },
  },
  {
    name: 'tag filter with a list of two tags',
    policy: { keepDaily: 1, tags: ['db,nightly'] },
    considered: ['d3'],
    keep: { d3: ['daily 2026-11-10'] },
  },
  {
    name: 'host filter with two hosts and the empty tag list (untagged only)',
    policy: { keepLast: 1, hosts: ['web', 'laptop'], tags: [''] },
    considered: [...names('w', 1, 20).filter((n) => !['w07', 'w13', 'w18'].includes(n)), 'e1', 'e2', 'e3', 'l2', 'l3'],
    keep: { w20: ['last 1'], e3: ['last 1'], l3: ['last 1'] },
  },
  {
    name: 'keepLast unlimited',
    policy: { keepLast: -1, hosts: ['laptop'] },
    considered: ['l1', 'l2', 'l3'],
    keep: { l1: ['last 3'], l2: ['last 2'], l3: ['last 1'] },
  },
];

function within(list: readonly string[], text: string): Record<string, string[]> {
  return Object.fromEntries(list.map((n) => [n, [`within ${text}`]]));
}

describe('applyPolicy on the fixture', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const result = applyPolicy(FIXTURE, c.policy, FIXTURE_NOW);
      const kept = Object.fromEntries(result.keep.map((d) => [nameOf(d.id), d.reasons]));
      assert.deepEqual(kept, { ...c.keep });
      const considered = c.considered ?? ALL;
      const expectedRemoved = considered.filter((n) => !(n in c.keep)).sort();
      assert.deepEqual(result.remove.map((d) => nameOf(d.id)).sort(), expectedRemoved);
      assert.deepEqual(result.groups.flatMap((g) => [...g.keep, ...g.remove]).length, considered.length);
    });
  }

  it('groups by host and sorted paths, labelled, sorted by label, oldest first inside', () => {
    const result = applyPolicy(FIXTURE, { keepLast: 2 }, FIXTURE_NOW);
    assert.deepEqual(result.groups.map((g) => g.label), [
      'host db, paths /etc,/var/lib/db', 'host laptop, paths /home', 'host web, paths /etc', 'host web, paths /srv',
    ]);
    assert.deepEqual(result.groups[0]!.key, { hostname: 'db', paths: ['/etc', '/var/lib/db'] });
    assert.deepEqual(result.groups[3]!.keep.map((d) => nameOf(d.id)), ['w19', 'w20']);
    assert.deepEqual(result.groups[3]!.remove.map((d) => nameOf(d.id)), names('w', 1, 18));
    assert.ok(result.keep.every((d) => d.group === groupOf(result, d.id)));
    assert.equal(applyPolicy(FIXTURE, { keepLast: 1, groupBy: [] }, FIXTURE_NOW).groups[0]!.label, '');
  });

  it('keepWithin counts from now when a snapshot is dated in the future', () => {
    const records = [
      fixtureSnapshot('f1', '2026-11-10T00:00:00Z', 'h', ['/p']),
      fixtureSnapshot('f2', '2026-11-18T00:00:00Z', 'h', ['/p']),
      fixtureSnapshot('f3', '2027-06-01T00:00:00Z', 'h', ['/p']),
    ];
    const result = applyPolicy(records, { keepWithin: '7d' }, FIXTURE_NOW);
    assert.deepEqual(result.keep.map((d) => nameOf(d.id)), ['f2', 'f3']);
    assert.deepEqual(result.remove.map((d) => nameOf(d.id)), ['f1']);
  });

  it('no snapshots: nothing to decide', () => {
    assert.deepEqual(applyPolicy([], { keepLast: 1 }, FIXTURE_NOW), { keep: [], remove: [], groups: [] });
  });
});

describe('applyPolicy states its rules and counters as restic does', () => {
  // The same history as restic 0.14 was given in a session (restic forget --json), with its answer.
  const history = [
    fixtureSnapshot('r1', '2026-01-01T10:00:00Z', 'h', ['/p'], ['daily']),
    fixtureSnapshot('r2', '2026-01-01T12:00:00Z', 'h', ['/p'], ['daily']),
    fixtureSnapshot('r3', '2026-01-02T10:00:00Z', 'h', ['/p']),
    fixtureSnapshot('r4', '2026-02-03T10:00:00Z', 'h', ['/p'], ['t1', 't2']),
  ];
  const policy: RetentionPolicy = { keepLast: 2, keepDaily: 2, keepMonthly: 1, keepWithin: '1d', keepTags: ['t1,t2'] };

  it('rules in restic order (tags, within, last, buckets); counters are what is left, zeros left out', () => {
    const [group] = applyPolicy(history, policy, new Date('2026-03-01T00:00:00Z')).groups;
    const judged = [...group!.keep, ...group!.remove].map((d) => [nameOf(d.id), d.rules, d.counters]);
    assert.deepEqual(judged, [
      ['r3', [{ kind: 'last' }, { kind: 'daily' }], {}],
      ['r4', [{ kind: 'tag', tags: ['t1', 't2'] }, { kind: 'within', duration: '1d' }, { kind: 'last' }, { kind: 'daily' }, { kind: 'monthly' }], { last: 1, daily: 1 }],
      ['r1', [], {}],
      ['r2', [], {}],
    ]);
  });

  it('an unlimited rule counts -1', () => {
    const [group] = applyPolicy(history, { keepLast: -1, keepHourly: 100 }, FIXTURE_NOW).groups;
    assert.deepEqual(group!.keep.map((d) => d.counters), [{ last: -1, hourly: 96 }, { last: -1, hourly: 97 }, { last: -1, hourly: 98 }, { last: -1, hourly: 99 }]);
  });
});

describe('applyPolicy refuses policies that are empty or malformed', () => {
  const empty = /^no policy given: pass at least one --keep-\* option$/;
  const cases: [string, RetentionPolicy, RegExp][] = [
    ['nothing', {}, empty],
    ['only zero counts', { keepLast: 0, keepDaily: 0 }, empty],
    ['a zero duration', { keepWithin: '0d' }, empty],
    ['no keep-tags', { keepTags: [] }, empty],
    ['only filters and grouping', { hosts: ['web'], tags: ['nightly'], groupBy: [] }, empty],
    ['a negative count', { keepLast: -2 }, /--keep-last -2 is not a count/],
    ['a fraction', { keepDaily: 1.5 }, /--keep-daily 1.5 is not a count/],
    ['a bad duration', { keepWithin: '7 days' }, /invalid duration "7 days"/],
    ['an empty keep-tag', { keepLast: 1, keepTags: [' , '] }, /--keep-tag needs a tag name/],
  ];
  for (const [name, policy, message] of cases) {
    it(name, () => {
      assert.throws(() => applyPolicy(FIXTURE, policy, FIXTURE_NOW), (err: unknown) => err instanceof UserError && message.test(err.message));
    });
  }
});

function groupOf(result: ReturnType<typeof applyPolicy>, id: string): string | undefined {
  return result.groups.find((g) => g.keep.some((d) => d.id === id) || g.remove.some((d) => d.id === id))?.label;
}
