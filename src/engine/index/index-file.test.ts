import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Id } from '../../core/ids.js';
import { BlobCompressor } from '../compress/zstd.js';
import { seal, SEAL_OVERHEAD } from '../crypto/aead.js';
import { sealJson } from '../repository/sealed-json.js';
import { assertIntegrityError, flipBit, indexFileArb, keyArb } from '../testing/arbitraries.js';
import { openIndex, sealIndex } from './index-file.js';
import { encodeIndex, type IndexFile } from './index-format.js';

fc.configureGlobal({ seed: 42, numRuns: 100 });

const KEY = Buffer.alloc(32, 0x33);
const compressor = new BlobCompressor();
/** The associated data of an index, as docs/repository-format.md gives it; used to forge well-sealed bad bodies. */
const INDEX_AAD = Buffer.from('ferry index v1');

/** An index with much redundancy (one pack, many blobs with equal fields), which compression shrinks. */
const BIG: IndexFile = {
  supersedes: [],
  packs: [
    {
      id: 'ab'.repeat(32) as Id,
      blobs: Array.from({ length: 200 }, (_, i) => ({ type: 'data' as const, id: '0'.repeat(64) as Id, compression: 1 as const, offset: i * 100, length: 100, rawLength: 200 })),
    },
  ],
};
const EMPTY: IndexFile = { packs: [], supersedes: [] };

const sealedArb = indexFileArb.map((index) => ({ index, sealed: sealIndex(KEY, index, compressor) }));

describe('sealIndex/openIndex', () => {
  it('round trips arbitrary index files', () => {
    fc.assert(fc.property(sealedArb, ({ index, sealed }) => assert.deepEqual(openIndex(KEY, sealed, compressor), index)));
  });

  it('stores a small index raw and a redundant one compressed, and opens both', () => {
    const small = sealIndex(KEY, EMPTY, compressor);
    assert.equal(small.length, SEAL_OVERHEAD + 1 + encodeIndex(EMPTY).length);
    assert.deepEqual(openIndex(KEY, small, compressor), EMPTY);
    const big = sealIndex(KEY, BIG, compressor);
    assert.ok(big.length < encodeIndex(BIG).length / 2, `${big.length} bytes`);
    assert.deepEqual(openIndex(KEY, big, compressor), BIG);
  });

  it('refuses any flipped bit', () => {
    fc.assert(
      fc.property(
        sealedArb.chain((s) => fc.tuple(fc.constant(s), fc.nat({ max: s.sealed.length * 8 - 1 }))),
        ([{ sealed }, bit]) => assertIntegrityError(() => openIndex(KEY, flipBit(sealed, bit), compressor)),
      ),
    );
  });

  it('refuses another key', () => {
    fc.assert(
      fc.property(sealedArb, keyArb, ({ sealed }, key) => {
        fc.pre(!key.equals(KEY));
        assertIntegrityError(() => openIndex(key, sealed, compressor));
      }),
    );
  });

  it('refuses a truncated index', () => {
    const sealed = sealIndex(KEY, BIG, compressor);
    for (const keep of [0, 1, 27, 28, sealed.length >> 1, sealed.length - 1]) {
      assertIntegrityError(() => openIndex(KEY, sealed.subarray(0, keep), compressor), `${keep} bytes`);
    }
  });

  it('refuses a JSON document sealed under the kind "index"', () => {
    assertIntegrityError(() => openIndex(KEY, sealJson(KEY, 'index', { packs: [], supersedes: [] }), compressor));
  });

  const forged: [string, Buffer][] = [
    ['an empty body', Buffer.alloc(0)],
    ['an unknown compression flag', Buffer.concat([Buffer.of(2), encodeIndex(EMPTY)])],
    ['a raw body with trailing bytes', Buffer.concat([Buffer.of(0), encodeIndex(EMPTY), Buffer.of(0)])],
    ['a raw body cut short', Buffer.concat([Buffer.of(0), encodeIndex(BIG).subarray(0, 100)])],
    ['a flag only', Buffer.of(0)],
    ['an unknown flag before a valid zstd frame', Buffer.concat([Buffer.of(2), compressor.compress(encodeIndex(BIG))!])],
    ['a zstd flag over raw bytes', Buffer.concat([Buffer.of(1), encodeIndex(EMPTY)])],
    ['a zstd flag with nothing after it', Buffer.of(1)],
    ['a zstd frame of a damaged index', Buffer.concat([Buffer.of(1), compressor.compress(encodeIndex(BIG).subarray(0, 5000))!])],
  ];
  for (const [name, body] of forged) {
    it(`refuses ${name}`, () => assertIntegrityError(() => openIndex(KEY, seal(KEY, body, INDEX_AAD), compressor)));
  }

  it('opens a well-formed body sealed by hand (the format is what the spec says)', () => {
    assert.deepEqual(openIndex(KEY, seal(KEY, Buffer.concat([Buffer.of(0), encodeIndex(BIG)]), INDEX_AAD), compressor), BIG);
    assert.deepEqual(openIndex(KEY, seal(KEY, Buffer.concat([Buffer.of(1), compressor.compress(encodeIndex(BIG))!]), INDEX_AAD), compressor), BIG);
  });
});
