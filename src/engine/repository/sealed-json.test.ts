import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { seal } from '../crypto/aead.js';
import { assertIntegrityError, flipBit, keyArb } from '../testing/arbitraries.js';
import { openJson, sealJson } from './sealed-json.js';

fc.configureGlobal({ seed: 42, numRuns: 100 });

const KEY = Buffer.alloc(32, 0x44);
const kindArb = fc.oneof(fc.constantFrom('config', 'snapshot', 'lock', 'index'), fc.string({ maxLength: 20 }));

describe('sealJson/openJson', () => {
  it('round trips any JSON value', () => {
    fc.assert(
      fc.property(keyArb, kindArb, fc.jsonValue(), (key, kind, value) => {
        // JSON itself turns -0 into 0; compare with what JSON keeps.
        assert.deepEqual(openJson(key, kind, sealJson(key, kind, value)), JSON.parse(JSON.stringify(value)));
      }),
    );
  });

  it('keeps text that is not ASCII', () => {
    const value = { hostname: 'hôte-🎉', paths: ['/home/ü', '\u0000'] };
    assert.deepEqual(openJson(KEY, 'snapshot', sealJson(KEY, 'snapshot', value)), value);
  });

  it('refuses a document sealed for another kind', () => {
    fc.assert(
      fc.property(kindArb, kindArb, fc.jsonValue(), (kind, other, value) => {
        fc.pre(kind !== other);
        assertIntegrityError(() => openJson(KEY, other, sealJson(KEY, kind, value)));
      }),
    );
  });

  it('refuses another key', () => {
    fc.assert(
      fc.property(keyArb, fc.jsonValue(), (key, value) => {
        fc.pre(!key.equals(KEY));
        assertIntegrityError(() => openJson(key, 'config', sealJson(KEY, 'config', value)));
      }),
    );
  });

  it('refuses any flipped bit', () => {
    fc.assert(
      fc.property(
        fc.jsonValue().map((v) => sealJson(KEY, 'snapshot', v)).chain((s) => fc.tuple(fc.constant(s), fc.nat({ max: s.length * 8 - 1 }))),
        ([sealed, bit]) => assertIntegrityError(() => openJson(KEY, 'snapshot', flipBit(sealed, bit))),
      ),
    );
  });

  const notJson: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['cut short', Buffer.from('{"a":')],
    ['binary', Buffer.from([0xff, 0x00])],
  ];
  for (const [name, body] of notJson) {
    it(`refuses a well-sealed body that is not JSON (${name})`, () => {
      assertIntegrityError(() => openJson(KEY, 'config', seal(KEY, body, Buffer.from('ferry config v1'))));
    });
  }
});
