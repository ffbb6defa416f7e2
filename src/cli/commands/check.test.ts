import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../../core/errors.js';
import type { PackSubset } from '../../engine/checker/checker.js';
import { parseReadDataSubset } from './check.js';

describe('parseReadDataSubset', () => {
  const accepted: [string, PackSubset][] = [
    ['10%', { kind: 'percent', percent: 10 }],
    ['2.5%', { kind: 'percent', percent: 2.5 }],
    ['100%', { kind: 'percent', percent: 100 }],
    ['0.01%', { kind: 'percent', percent: 0.01 }],
    ['1/3', { kind: 'part', n: 1, of: 3 }],
    ['2/5', { kind: 'part', n: 2, of: 5 }],
    ['5/5', { kind: 'part', n: 5, of: 5 }],
    ['1/1', { kind: 'part', n: 1, of: 1 }],
    ['007/10', { kind: 'part', n: 7, of: 10 }],
  ];
  for (const [text, subset] of accepted) {
    it(`accepts ${text}`, () => assert.deepEqual(parseReadDataSubset(text), subset));
  }

  const refused = ['', '0%', '0.0%', '100.5%', '101%', '-5%', '%', '.5%', '5', ' 5%', '5 %', '0/3', '4/3', '1/0', '0/0', '-1/3', '1/3/4', '1.5/3', 'a/b', 'half', '99999999999999999999/99999999999999999999'];
  for (const text of refused) {
    it(`refuses ${JSON.stringify(text)} with a UserError saying what is accepted`, () => {
      assert.throws(() => parseReadDataSubset(text), (err: unknown) => err instanceof UserError && /percentage .* or a part n\/t/.test(err.message));
    });
  }
});
