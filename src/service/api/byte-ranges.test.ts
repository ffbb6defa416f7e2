import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidRangeError, exactRange, parseRangeHeader, resolveRange } from './byte-ranges.js';

describe('byte ranges (RFC 9110, 14.1)', () => {
  it('resolves each kind against the size: clipped, open, suffix, or unsatisfiable', () => {
    const cases: ReadonlyArray<readonly [string, number, ReturnType<typeof resolveRange>]> = [
      ['bytes=0-9', 100, { offset: 0, length: 10 }],
      ['bytes=90-200', 100, { offset: 90, length: 10 }],
      ['bytes=0-9007199254740993', 100, { offset: 0, length: 100 }],
      ['bytes=99-', 100, { offset: 99, length: 1 }],
      ['bytes=100-', 100, 'unsatisfiable'],
      ['bytes=-1', 100, { offset: 99, length: 1 }],
      ['bytes=-1000', 100, { offset: 0, length: 100 }],
      ['bytes=-0', 100, 'unsatisfiable'],
      ['bytes=0-0', 0, 'unsatisfiable'],
      ['bytes=0-', 0, 'unsatisfiable'],
      ['bytes=-5', 0, 'unsatisfiable'],
      [`bytes=${'9'.repeat(400)}-`, 100, 'unsatisfiable'],
      [`bytes=5-${'9'.repeat(400)}`, 100, { offset: 5, length: 95 }],
    ];
    for (const [header, size, expected] of cases) {
      const request = parseRangeHeader(header);
      assert.notEqual(request.kind, 'whole', header);
      if (request.kind === 'whole') continue;
      assert.deepEqual(resolveRange(request, size), expected, `${header} of ${size}`);
    }
  });

  it('ignores other units and several ranges, refuses malformed byte ranges', () => {
    for (const header of [undefined, 'items=0-1', 'bytes=0-1, 3-4', 'bytes=0-1,-5']) {
      assert.deepEqual(parseRangeHeader(header), { kind: 'whole' }, String(header));
    }
    for (const header of ['bytes=', 'bytes=-', 'bytes=5-1', 'bytes=1.5-2', 'bytes=+1-2', 'bytes=1-2-3', 'garbage', 'bytes=\u0661-2']) {
      assert.throws(() => parseRangeHeader(header), InvalidRangeError, header);
    }
  });

  it('tries a bounded range at once only when both ends are safe integers', () => {
    assert.deepEqual(exactRange(parseRangeHeader('bytes=10-19')), { offset: 10, length: 10 });
    assert.equal(exactRange(parseRangeHeader('bytes=0-9007199254740992')), undefined);
    assert.equal(exactRange(parseRangeHeader('bytes=10-')), undefined);
    assert.equal(exactRange(parseRangeHeader('bytes=-10')), undefined);
  });
});
