import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { assertIntegrityError, atOffset, bytesArb, flipBit, keyArb } from '../testing/arbitraries.js';
import { createDecipheriv } from 'node:crypto';
import { nativeGcmOpenInto, nativeGcmSealInto } from '../os/posix-extras.js';
import { open, openInto, seal, sealInto, SEAL_OVERHEAD } from './aead.js';

fc.configureGlobal({ seed: 42, numRuns: 100 });

const aadArb = fc.option(bytesArb(64), { nil: undefined });
/** A sealed message with its inputs. */
const sealedArb = fc.record({ key: keyArb, plain: bytesArb(512), aad: aadArb }).map((c) => ({ ...c, sealed: seal(c.key, c.plain, c.aad) }));

describe('seal/open', () => {
  it('round trips arbitrary bytes and associated data', () => {
    fc.assert(
      fc.property(keyArb, bytesArb(4096), aadArb, (key, plain, aad) => {
        const sealed = seal(key, plain, aad);
        assert.equal(sealed.length, plain.length + SEAL_OVERHEAD);
        assert.deepEqual(open(key, sealed, aad), plain);
      }),
    );
  });

  it('opens a sealed message that sits at an offset inside a larger buffer', () => {
    fc.assert(
      fc.property(sealedArb, ({ key, plain, aad, sealed }) => {
        assert.deepEqual(open(key, atOffset(sealed), aad ? atOffset(aad) : undefined), plain);
      }),
    );
  });

  it('does not hide the plaintext: the ciphertext differs from it', () => {
    const plain = Buffer.alloc(64, 0x41);
    const sealed = seal(Buffer.alloc(32, 1), plain);
    assert.ok(!sealed.includes(plain.subarray(0, 16)));
  });

  it('uses a fresh nonce for every seal of the same input', () => {
    fc.assert(
      fc.property(keyArb, bytesArb(256), aadArb, (key, plain, aad) => {
        const a = seal(key, plain, aad);
        const b = seal(key, plain, aad);
        assert.notDeepEqual(a.subarray(0, 12), b.subarray(0, 12));
        assert.notDeepEqual(a, b);
      }),
    );
  });

  it('refuses any single flipped bit', () => {
    fc.assert(
      fc.property(
        sealedArb.chain((s) => fc.tuple(fc.constant(s), fc.nat({ max: s.sealed.length * 8 - 1 }))),
        ([{ key, aad, sealed }, bit]) => assertIntegrityError(() => open(key, flipBit(sealed, bit), aad)),
      ),
    );
  });

  it('refuses every truncation, from either end', () => {
    fc.assert(
      fc.property(
        sealedArb.chain((s) => fc.tuple(fc.constant(s), fc.nat({ max: s.sealed.length - 1 }), fc.boolean())),
        ([{ key, aad, sealed }, keep, fromEnd]) => {
          const cut = fromEnd ? sealed.subarray(0, keep) : sealed.subarray(sealed.length - keep);
          assertIntegrityError(() => open(key, cut, aad));
        },
      ),
    );
  });

  it('refuses an extended message', () => {
    fc.assert(
      fc.property(sealedArb, bytesArb(32, 1), fc.boolean(), ({ key, aad, sealed }, extra, before) => {
        const longer = before ? Buffer.concat([extra, sealed]) : Buffer.concat([sealed, extra]);
        assertIntegrityError(() => open(key, longer, aad));
      }),
    );
  });

  it('refuses another key', () => {
    fc.assert(
      fc.property(sealedArb, keyArb, ({ key, aad, sealed }, other) => {
        fc.pre(!other.equals(key));
        assertIntegrityError(() => open(other, sealed, aad));
      }),
    );
  });

  it('refuses other associated data', () => {
    fc.assert(
      fc.property(sealedArb, aadArb, ({ key, aad, sealed }, other) => {
        // GCM treats absent and empty associated data alike; so does every caller.
        fc.pre(!Buffer.from(other ?? []).equals(Buffer.from(aad ?? [])));
        assertIntegrityError(() => open(key, sealed, other));
      }),
    );
  });

  const tooShort: [string, number][] = [
    ['empty input', 0],
    ['a nonce only', 12],
    ['one byte short of nonce and tag', SEAL_OVERHEAD - 1],
  ];
  for (const [name, length] of tooShort) {
    it(`refuses ${name}`, () => assertIntegrityError(() => open(Buffer.alloc(32), Buffer.alloc(length))));
  }

  it('refuses a message of only nonce and tag that was not sealed', () => {
    assertIntegrityError(() => open(Buffer.alloc(32), Buffer.alloc(SEAL_OVERHEAD)));
  });

  it('opens an empty plaintext sealed with the same key', () => {
    const key = Buffer.alloc(32, 9);
    assert.equal(open(key, seal(key, Buffer.alloc(0))).length, 0);
  });
});

describe('openInto (the addon\u2019s AES-256-GCM, no buffer per call)', () => {
  it('is the addon\u2019s call here (the build has it)', () => {
    assert.equal(typeof nativeGcmOpenInto(), 'function');
  });

  it('opens into a buffer at an offset exactly what open returns, for any length and associated data', () => {
    fc.assert(
      fc.property(keyArb, bytesArb(70_000), aadArb, fc.nat({ max: 40 }), (key, plain, aad, offset) => {
        const sealed = seal(key, plain, aad);
        const target = Buffer.alloc(offset + plain.length + 5, 0xee);
        assert.equal(openInto(key, atOffset(sealed), aad, target, offset), plain.length);
        assert.deepEqual(target.subarray(offset, offset + plain.length), plain);
        assert.ok(target.subarray(0, offset).every((b) => b === 0xee) && target.subarray(offset + plain.length).every((b) => b === 0xee), 'nothing written outside');
      }),
      { numRuns: 30 },
    );
  });

  it('opens what sealInto sealed, and refuses any flipped bit, another key or other associated data', () => {
    fc.assert(
      fc.property(sealedArb.chain((s) => fc.tuple(fc.constant(s), fc.nat({ max: s.sealed.length * 8 - 1 }))), ([{ key, plain, aad }, bit]) => {
        const sealed = Buffer.alloc(plain.length + SEAL_OVERHEAD);
        sealInto(key, plain, aad, sealed, 0);
        const target = Buffer.alloc(plain.length);
        assert.equal(openInto(key, sealed, aad, target, 0), plain.length);
        assert.deepEqual(target, plain);
        assertIntegrityError(() => openInto(key, flipBit(sealed, bit % (sealed.length * 8)), aad, target, 0));
        const other = Buffer.from(key);
        other[0]! ^= 1;
        assertIntegrityError(() => openInto(other, sealed, aad, target, 0));
        assertIntegrityError(() => openInto(key, sealed, aad && aad.length > 0 ? undefined : Buffer.from('x'), target, 0));
      }),
      { numRuns: 50 },
    );
  });

  it('refuses a target without room before writing, and too short a message', () => {
    const key = Buffer.alloc(32, 3);
    const sealed = seal(key, Buffer.alloc(100, 1));
    assert.throws(() => openInto(key, sealed, undefined, Buffer.alloc(99), 0), RangeError);
    assert.throws(() => openInto(key, sealed, undefined, Buffer.alloc(100), 1), RangeError);
    assertIntegrityError(() => openInto(key, Buffer.alloc(SEAL_OVERHEAD - 1), undefined, Buffer.alloc(10), 0));
    assert.equal(openInto(key, seal(key, Buffer.alloc(0), Buffer.from('a')), Buffer.from('a'), Buffer.alloc(0), 0), 0);
  });
});

/** node:crypto's own open of `nonce ‖ ciphertext ‖ tag`: an oracle independent of the addon. */
function openWithNode(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array | undefined): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  if (aad) decipher.setAAD(aad);
  return Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]);
}

describe('sealInto (the addon\u2019s AES-256-GCM, no buffer per call)', () => {
  it('is the addon\u2019s call here (the build has it)', () => {
    assert.equal(typeof nativeGcmSealInto(), 'function');
  });

  it('seals at an offset what node:crypto opens, with the nonce it left there, writing nothing outside', () => {
    fc.assert(
      fc.property(keyArb, bytesArb(70_000), aadArb, fc.nat({ max: 40 }), (key, plain, aad, offset) => {
        const target = Buffer.alloc(offset + plain.length + SEAL_OVERHEAD + 5, 0xee);
        assert.equal(sealInto(key, atOffset(plain), aad, target, offset), plain.length + SEAL_OVERHEAD);
        const sealed = target.subarray(offset, offset + plain.length + SEAL_OVERHEAD);
        assert.deepEqual(openWithNode(key, sealed, aad), Buffer.from(plain));
        assert.deepEqual(open(key, sealed, aad), Buffer.from(plain));
        assert.ok(target.subarray(0, offset).every((b) => b === 0xee) && target.subarray(offset + sealed.length).every((b) => b === 0xee), 'nothing written outside');
      }),
      { numRuns: 30 },
    );
  });

  it('uses a fresh nonce for every seal of the same input', () => {
    const key = Buffer.alloc(32, 7);
    const first = Buffer.alloc(10 + SEAL_OVERHEAD);
    const second = Buffer.alloc(10 + SEAL_OVERHEAD);
    sealInto(key, Buffer.alloc(10, 1), undefined, first, 0);
    sealInto(key, Buffer.alloc(10, 1), undefined, second, 0);
    assert.notDeepEqual(first.subarray(0, 12), second.subarray(0, 12));
    assert.notDeepEqual(first, second);
  });

  it('refuses a target without room and a plaintext overlapping its target, before writing', () => {
    const key = Buffer.alloc(32, 3);
    const target = Buffer.alloc(100 + SEAL_OVERHEAD, 0xee);
    assert.throws(() => sealInto(key, Buffer.alloc(100, 1), undefined, target, 1), RangeError);
    assert.ok(target.every((b) => b === 0xee));
    const seal = nativeGcmSealInto()!;
    assert.throws(() => seal(key, target.subarray(30, 40), undefined, target, 0), RangeError);
    assert.throws(() => seal(Buffer.alloc(16), Buffer.alloc(1), undefined, target, 0), RangeError);
  });
});
