import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isValidTrackingNumber, trackingNumberKey } from './tracking-number.js';

describe('tracking numbers', () => {
  const same: ReadonlyArray<readonly [string, string]> = [
    ['1Z999AA1-01', '1Z 999 AA1 01'],
    ['1z999aa10123456784', '1Z 999 AA1 01 2345 6784'],
    ['JD.0146.0000.0001', 'jd 0146 0000 0001'],
    ['1Z-999--AA1', '1z999aa1'],
    ['  12 34 ', '1234'],
    ['A.B-C D', 'abcd'],
  ];
  for (const [a, b] of same) {
    it(`"${a}" is the same parcel as "${b}"`, () => assert.equal(trackingNumberKey(a), trackingNumberKey(b)));
  }

  const different: ReadonlyArray<readonly [string, string]> = [
    ['1Z999AA101', '1Z999AA102'],
    ['1Z999AA1', '1Z999AA10'],
    ['0O', 'OO'],
  ];
  for (const [a, b] of different) {
    it(`"${a}" is not "${b}"`, () => assert.notEqual(trackingNumberKey(a), trackingNumberKey(b)));
  }

  it('keys are upper case without spaces, hyphens or dots', () => assert.equal(trackingNumberKey('1z 999.aa1-01'), '1Z999AA101'));

  const valid: ReadonlyArray<readonly [string, boolean]> = [
    ['1Z999AA1-01', true],
    ['JD.0146.0000', true],
    ['a', true],
    ['x'.repeat(64), true],
    ['x'.repeat(65), false],
    ['', false],
    ['- . -', false],
    ['1Z_999', false],
    ['1Z/999', false],
    ['ΑΒΓ123', false],
    ['1Z\t999', false],
  ];
  for (const [value, ok] of valid) {
    it(`${JSON.stringify(value.length > 20 ? `${value.slice(0, 8)}…(${value.length})` : value)} is ${ok ? '' : 'not '}a tracking number`, () => assert.equal(isValidTrackingNumber(value), ok));
  }
});
