import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../core/errors.js';
import { dueSlot, formatDailyTime, latestSlot, nextSlot, parseDailyTime } from './daily-schedule.js';

// Slots are local time; these tests build their instants in local time too, so they hold in any zone.
const at = (day: number, hour: number, minute = 0): number => new Date(2026, 10, day, hour, minute).getTime();
const TWO_THIRTY = parseDailyTime('02:30');

describe('parseDailyTime', () => {
  for (const [text, hour, minute] of [['02:30', 2, 30], ['0:05', 0, 5], ['23:59', 23, 59], [' 12:00 ', 12, 0]] as const) {
    it(`reads "${text}"`, () => assert.deepEqual(parseDailyTime(text), { hour, minute }));
  }
  for (const text of ['24:00', '12:60', '2:3', '1230', '12:30:00', '', 'noon', '-1:00']) {
    it(`refuses "${text}"`, () => assert.throws(() => parseDailyTime(text), UserError));
  }
  it('formats with two digits', () => assert.equal(formatDailyTime(parseDailyTime('2:05')), '02:05'));
});

describe('slots', () => {
  it('the latest slot is today once the time has passed, else yesterday', () => {
    assert.equal(latestSlot(at(25, 2, 30), TWO_THIRTY), at(25, 2, 30));
    assert.equal(latestSlot(at(25, 14), TWO_THIRTY), at(25, 2, 30));
    assert.equal(latestSlot(at(25, 2, 29), TWO_THIRTY), at(24, 2, 30));
  });

  it('the next slot is strictly later', () => {
    assert.equal(nextSlot(at(25, 2, 30), TWO_THIRTY), at(26, 2, 30));
    assert.equal(nextSlot(at(25, 1), TWO_THIRTY), at(25, 2, 30));
    assert.equal(nextSlot(at(30, 23), TWO_THIRTY), new Date(2026, 11, 1, 2, 30).getTime(), 'across a month end');
  });
});

describe('dueSlot', () => {
  const since = at(20, 12);
  it('is due once the slot has passed and was not run', () => assert.equal(dueSlot(at(25, 3), TWO_THIRTY, since, at(24, 2, 30)), at(25, 2, 30)));
  it('is not due again for a slot already run', () => assert.equal(dueSlot(at(25, 23), TWO_THIRTY, since, at(25, 2, 30)), undefined));
  it('catches up a missed slot once, however late the agent starts', () => {
    assert.equal(dueSlot(at(25, 20), TWO_THIRTY, since, at(23, 2, 30)), at(25, 2, 30), 'two missed slots give one run');
  });
  it('runs nothing for a slot before the schedule was set', () => {
    assert.equal(dueSlot(at(20, 13), TWO_THIRTY, since, undefined), undefined);
    assert.equal(dueSlot(at(21, 2, 30), TWO_THIRTY, since, undefined), at(21, 2, 30));
  });
});

describe('slots across daylight-saving changes (Europe/Berlin)', () => {
  const saved = process.env.TZ;
  const inBerlin = (fn: () => void) => () => {
    process.env.TZ = 'Europe/Berlin';
    try {
      fn();
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  };
  it('a slot in the skipped hour moves to the next valid instant, and the next day keeps 02:30', inBerlin(() => {
    const skipped = latestSlot(Date.parse('2026-03-29T12:00:00+02:00'), TWO_THIRTY);
    assert.equal(skipped, Date.parse('2026-03-29T03:30:00+02:00'));
    assert.equal(nextSlot(skipped, TWO_THIRTY), Date.parse('2026-03-30T02:30:00+02:00'));
  }));
  it('a 25-hour day still gives one slot at 02:30 local time', inBerlin(() => {
    const before = Date.parse('2026-10-24T02:30:00+02:00');
    assert.equal(nextSlot(before, TWO_THIRTY), Date.parse('2026-10-25T02:30:00+02:00'));
    assert.equal(nextSlot(Date.parse('2026-10-25T02:30:00+02:00'), TWO_THIRTY), Date.parse('2026-10-26T02:30:00+01:00'));
  }));
});
