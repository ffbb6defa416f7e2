import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../../core/errors.js';
import { bucketOf, isoWeek } from './buckets.js';
import { parseDuration, subtractDuration } from './duration.js';
import { parseGroupBy } from './grouping.js';

describe('parseDuration', () => {
  const valid: [string, { years: number; months: number; days: number; hours: number; text: string }][] = [
    ['7d', { years: 0, months: 0, days: 7, hours: 0, text: '7d' }],
    ['2w', { years: 0, months: 0, days: 14, hours: 0, text: '2w' }],
    ['36h', { years: 0, months: 0, days: 0, hours: 36, text: '36h' }],
    ['1y6m', { years: 1, months: 6, days: 0, hours: 0, text: '1y6m' }],
    ['1y2m3w4d5h', { years: 1, months: 2, days: 25, hours: 5, text: '1y2m3w4d5h' }],
    ['5h1y', { years: 1, months: 0, days: 0, hours: 5, text: '1y5h' }],
    ['0d', { years: 0, months: 0, days: 0, hours: 0, text: '0d' }],
    ['007d', { years: 0, months: 0, days: 7, hours: 0, text: '7d' }],
    ['18m', { years: 0, months: 18, days: 0, hours: 0, text: '18m' }],
  ];
  for (const [text, expected] of valid) {
    it(`accepts ${text}`, () => assert.deepEqual(parseDuration(text), expected));
  }
  const invalid = ['', 'd', '7', '7x', '-7d', '+7d', '7d7d', '1.5d', '7D', '7 d', ' 7d', '7d ', '1y-2m', 'y1', '99999999999999999999d'];
  for (const text of invalid) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      assert.throws(() => parseDuration(text), (err: unknown) => err instanceof UserError && err.message.startsWith(`invalid duration "${text}"`));
    });
  }
});

describe('subtractDuration (UTC calendar arithmetic)', () => {
  const cases: [string, string, string][] = [
    ['2026-11-20T11:00:00.000Z', '7d', '2026-11-13T11:00:00.000Z'],
    ['2026-11-20T11:00:00.000Z', '36h', '2026-11-18T23:00:00.000Z'],
    ['2026-11-20T11:00:00.000Z', '1y6m', '2025-05-20T11:00:00.000Z'],
    ['2026-03-01T00:00:00.000Z', '1d', '2026-02-28T00:00:00.000Z'],
    ['2024-03-01T00:00:00.000Z', '1d', '2024-02-29T00:00:00.000Z'],
    // Day overflow as in Go's AddDate: February 31 is March 3 in 2026.
    ['2026-03-31T12:00:00.000Z', '1m', '2026-03-03T12:00:00.000Z'],
    ['2024-02-29T00:00:00.000Z', '1y', '2023-03-01T00:00:00.000Z'],
    ['2026-01-15T00:00:00.000Z', '2m', '2025-11-15T00:00:00.000Z'],
  ];
  for (const [from, duration, expected] of cases) {
    it(`${from} - ${duration}`, () => assert.equal(subtractDuration(new Date(from), parseDuration(duration)).toISOString(), expected));
  }
});

describe('buckets and ISO weeks', () => {
  // Expected weeks from GNU `date -u +%G-W%V`.
  const weeks: [string, string][] = [
    ['2024-12-30', '2025-W01'], ['2025-12-31', '2026-W01'], ['2026-01-01', '2026-W01'], ['2027-01-01', '2026-W53'],
    ['2021-01-03', '2020-W53'], ['2026-11-08', '2026-W45'], ['2026-11-09', '2026-W46'], ['2025-06-30', '2025-W27'],
  ];
  for (const [day, week] of weeks) {
    it(`${day} is in ${week}`, () => assert.equal(bucketOf('weekly', new Date(`${day}T12:00:00Z`)), week));
  }
  it('labels every bucket kind from UTC fields', () => {
    const t = new Date('2026-11-20T23:30:00+02:00');
    assert.deepEqual(
      (['hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const).map((k) => bucketOf(k, t)),
      ['2026-11-20T21', '2026-11-20', '2026-W47', '2026-11', '2026'],
    );
    assert.deepEqual(isoWeek(new Date('0050-06-15T00:00:00Z')), { year: 50, week: 24 });
  });
});

describe('parseGroupBy', () => {
  const cases: [string, string[]][] = [
    ['host,paths', ['host', 'paths']], ['paths,host', ['host', 'paths']], ['', []], ['tags', ['tags']],
    ['hostname,path,tag', ['host', 'paths', 'tags']], ['host, host', ['host']],
  ];
  for (const [text, expected] of cases) it(JSON.stringify(text), () => assert.deepEqual(parseGroupBy(text), expected));
  it('refuses unknown fields', () => {
    assert.throws(() => parseGroupBy('host,user'), (err: unknown) => err instanceof UserError && /invalid --group-by "host,user"/.test(err.message));
    assert.throws(() => parseGroupBy('constructor'), UserError);
  });
});
