import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSince } from '../option-parsers.js';
import { formatDetail } from './audit.js';

const NOW = Date.parse('2026-11-25T12:00:00.000Z');

describe('ferry audit list: --since and the detail column', () => {
  it('takes an age before now or an ISO time with its offset', () => {
    const cases: [string, string][] = [
      ['30m', '2026-11-25T11:30:00.000Z'],
      ['12h', '2026-11-25T00:00:00.000Z'],
      ['7d', '2026-11-18T12:00:00.000Z'],
      ['2w', '2026-11-11T12:00:00.000Z'],
      ['2026-11-20T08:00:00Z', '2026-11-20T08:00:00.000Z'],
      ['2026-11-20T08:00:00.5+01:00', '2026-11-20T07:00:00.500Z'],
      ['2026-11-20T08:00Z', '2026-11-20T08:00:00.000Z'],
    ];
    for (const [value, expected] of cases) assert.equal(parseSince(value, NOW), expected, value);
  });

  it('refuses anything else with one line saying what it takes', () => {
    for (const value of ['yesterday', '0d', '7', '7y', '-7d', '2026-11-20', '2026-11-20T08:00:00', '2026-13-40T99:00:00Z', '']) {
      assert.throws(() => parseSince(value, NOW), /expected an ISO time such as .* or an age such as 12h, 7d or 2w/, value);
    }
  });

  it('prints the detail as key=value pairs, lists joined by commas', () => {
    assert.equal(formatDetail({ key: 'snapshots/ab', snapshotIds: ['a', 'b'], diskIndex: 0, backend: null }), 'key=snapshots/ab snapshotIds=a,b diskIndex=0 backend=null');
    assert.equal(formatDetail({}), '');
  });
});
