import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { gearHashAt, scanBytes, scanGear, scanNative, scanScript, scanWords, type GearScanner } from './gear-scan.js';

// The specification the optimized scanners must match: one byte at a time, unsigned arithmetic.
function referenceScan(buf: Uint8Array, gear: Uint32Array, h: number, i: number, end: number, mask: number): number {
  let state = h >>> 0;
  for (; i < end; i++) {
    state = ((state << 1) + gear[buf[i]!]!) >>> 0;
    if ((state & mask) === 0) return i + 1;
  }
  return -1;
}

const scanners: [string, GearScanner][] = [['scanBytes', scanBytes], ['scanWords', scanWords]];
// The native scanner must be built (npm ci); the test below fails when it is not.
if (scanNative) scanners.push(['scanNative (C, from the addon)', scanNative]);

// Sparse masks make matches frequent enough that every unrolled slot and the tail loops get exercised.
const maskArb = fc.integer({ min: 1, max: 12 }).chain((bits) =>
  fc.uniqueArray(fc.integer({ min: 0, max: 31 }), { minLength: bits, maxLength: bits }).map((positions) =>
    positions.reduce((m, p) => m | (1 << p), 0),
  ),
);

const caseArb = fc.record({
  slack: fc.integer({ min: 0, max: 7 }),
  length: fc.integer({ min: 0, max: 600 }),
  from: fc.nat(),
  to: fc.nat(),
  h: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  mask: maskArb,
});

describe('gear scanners', () => {
  const gear = new Uint32Array(randomBytes(1024).buffer);
  const gearI32 = new Int32Array(gear.buffer);

  for (const [name, scan] of scanners) {
    it(`${name} matches the byte-at-a-time reference at every alignment`, () => {
      fc.assert(
        fc.property(caseArb, ({ slack, length, from, to, h, mask }) => {
          // A subarray at an odd byteOffset checks the word scanner's alignment prologue.
          const buf = new Uint8Array(randomBytes(slack + length).buffer, slack, length);
          const i = length === 0 ? 0 : from % (length + 1);
          const end = i + (to % (length - i + 1));
          assert.equal(scan(buf, gearI32, h, i, end, mask), referenceScan(buf, gear, h, i, end, mask));
        }),
        { numRuns: 2000 },
      );
    });
  }

  it('scanGear is the native scanner, built by npm ci; scanScript one of the JavaScript two', () => {
    assert.ok(scanNative, 'the native addon has no gearScan: run `npm ci` (node-gyp) to build build/Release/ferry_fs.node');
    assert.equal(scanGear, scanNative);
    assert.ok(scanScript === scanWords || scanScript === scanBytes);
  });

  it('the native scanner checks its arguments instead of reading outside the buffer', () => {
    const scan = scanNative;
    assert.ok(scan);
    const buf = randomBytes(100);
    assert.throws(() => scan(buf, gearI32, 0, 0, 101, 1), RangeError);
    assert.throws(() => scan(buf, gearI32, 0, 50, 49, 1), RangeError);
    assert.throws(() => scan(buf, gearI32, 0, -1, 10, 1), RangeError);
    assert.throws(() => scan(buf, gearI32, 0, 0.5, 10, 1), RangeError);
    assert.throws(() => scan(buf, new Int32Array(255), 0, 0, 10, 1), TypeError);
    assert.throws(() => scan(buf, gear as unknown as Int32Array, 0, 0, 10, 1), TypeError);
    assert.throws(() => scan(new Uint16Array(10) as unknown as Uint8Array, gearI32, 0, 0, 10, 1), TypeError);
    assert.equal(scan(buf, gearI32, 0, 100, 100, 1), -1);
    // Over shared memory too (the rings of the encoder workers are SharedArrayBuffers).
    const shared = new Uint8Array(new SharedArrayBuffer(100));
    shared.set(buf);
    assert.equal(scan(shared, gearI32, 5, 0, 100, 0x80000001), scanBytes(buf, gearI32, 5, 0, 100, 0x80000001));
  });

  it('gearHashAt equals hashing the whole range, because a byte leaves a 32-bit gear hash after 32 steps', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 200 }), (from, extra) => {
        const buf = randomBytes(from + extra);
        let h = 0;
        for (let i = from; i < from + extra; i++) h = ((h << 1) + gear[buf[i]!]!) >>> 0;
        assert.equal(gearHashAt(buf, gearI32, from, from + extra) >>> 0, h);
      }),
      { numRuns: 500 },
    );
  });
});
