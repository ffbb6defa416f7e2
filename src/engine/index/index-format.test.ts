import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Id } from '../../core/ids.js';
import { assertIntegrityError, atOffset, bytesArb, indexFileArb, U32_MAX } from '../testing/arbitraries.js';
import { decodeIndex, encodeIndex, type IndexFile } from './index-format.js';

fc.configureGlobal({ seed: 42, numRuns: 100 });

const ID_BYTES = 32;
const ENTRY_BYTES = 46;

const sizeOf = (index: IndexFile): number =>
  1 + 4 + index.supersedes.length * ID_BYTES + 4 + index.packs.reduce((n, p) => n + ID_BYTES + 4 + p.blobs.length * ENTRY_BYTES, 0);

const ID = (c: string): Id => c.repeat(64) as Id;
const SAMPLE: IndexFile = {
  supersedes: [ID('a')],
  packs: [{ id: ID('b'), blobs: [{ type: 'tree', id: ID('c'), compression: 1, offset: 7, length: 8, rawLength: 9 }] }],
};
/** Byte positions in SAMPLE's encoding. */
const BLOB_AT = 1 + 4 + ID_BYTES + 4 + ID_BYTES + 4;

describe('encodeIndex/decodeIndex', () => {
  it('round trips arbitrary index files', () => {
    fc.assert(
      fc.property(indexFileArb, (index) => {
        const encoded = encodeIndex(index);
        assert.equal(encoded.length, sizeOf(index));
        assert.deepEqual(decodeIndex(encoded), index);
        assert.deepEqual(decodeIndex(atOffset(encoded)), index);
      }),
    );
  });

  it('keeps the extremes of every field', () => {
    const index: IndexFile = {
      supersedes: [],
      packs: [
        { id: ID('0'), blobs: [] },
        { id: ID('f'), blobs: [{ type: 'data', id: ID('f'), compression: 0, offset: U32_MAX, length: U32_MAX, rawLength: U32_MAX }] },
      ],
    };
    assert.deepEqual(decodeIndex(encodeIndex(index)), index);
    assert.deepEqual(decodeIndex(encodeIndex({ packs: [], supersedes: [] })), { packs: [], supersedes: [] });
  });

  it('refuses every truncation', () => {
    fc.assert(
      fc.property(
        indexFileArb.map(encodeIndex).chain((bytes) => fc.tuple(fc.constant(bytes), fc.nat({ max: bytes.length - 1 }))),
        ([bytes, keep]) => assertIntegrityError(() => decodeIndex(bytes.subarray(0, keep))),
      ),
    );
  });

  it('refuses trailing bytes', () => {
    fc.assert(
      fc.property(indexFileArb, bytesArb(64, 1), (index, extra) => assertIntegrityError(() => decodeIndex(Buffer.concat([encodeIndex(index), extra])))),
    );
  });

  const patch = (at: number, ...bytes: number[]) => (): Buffer => {
    const out = encodeIndex(SAMPLE);
    Buffer.from(bytes).copy(out, at);
    return out;
  };
  const damaged: [string, () => Uint8Array][] = [
    ['empty input', () => Buffer.alloc(0)],
    ['version 0', patch(0, 0)],
    ['version 2', patch(0, 2)],
    ['a supersedes count too large', patch(1, 2)],
    ['a huge supersedes count', patch(1, 0xff, 0xff, 0xff, 0xff)],
    ['a supersedes count too small (the rest then does not parse)', patch(1, 0)],
    ['a pack count too large', patch(1 + 4 + ID_BYTES, 2)],
    ['a huge blob count', patch(BLOB_AT - 4, 0xff, 0xff, 0xff, 0xff)],
    ['blob type 2', patch(BLOB_AT, 2)],
    ['compression 2', patch(BLOB_AT + 1, 2)],
  ];
  for (const [name, bytes] of damaged) {
    it(`refuses ${name}`, () => assertIntegrityError(() => decodeIndex(bytes())));
  }
});
