import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { IntegrityError } from '../../core/errors.js';
import { seal } from '../crypto/aead.js';
import {
  assertIntegrityError,
  atOffset,
  bytesArb,
  flipBit,
  keyArb,
  packEntryArb,
  U32_MAX,
} from '../testing/arbitraries.js';
import {
  decodePackHeader,
  encodePackHeader,
  openPackHeader,
  PACK_TRAILER_BYTES,
  packSizeOf,
  sealPackHeader,
  type PackedBlob,
  type PackEntry,
} from './pack-format.js';

fc.configureGlobal({ seed: 42, numRuns: 100 });

const ENTRY_BYTES = 42;
const KEY = Buffer.alloc(32, 0x11);

/** What decoding `entries` must give: the same entries with offsets equal to the running sum of lengths. */
function withOffsets(entries: readonly PackEntry[]): PackedBlob[] {
  let offset = 0;
  return entries.map((e) => {
    const blob = { ...e, offset };
    offset += e.length;
    return blob;
  });
}

/** A synthetic pack: random bytes of each entry's declared length, then the sealed header and trailer. */
const packArb = fc
  .array(packEntryArb(300), { maxLength: 12 })
  .chain((entries) =>
    fc.record({
      entries: fc.constant(entries),
      blobs: fc.tuple(...entries.map((e) => bytesArb(e.length, e.length))),
    }),
  )
  .map(({ entries, blobs }) => {
    const header = sealPackHeader(KEY, entries);
    const pack = Buffer.concat([...blobs, header]);
    return { entries, pack, headerStart: pack.length - header.length };
  });

describe('encodePackHeader/decodePackHeader', () => {
  it('round trips arbitrary entry lists, offsets being the running sum of lengths', () => {
    fc.assert(
      fc.property(fc.array(packEntryArb(), { maxLength: 40 }), (entries) => {
        const encoded = encodePackHeader(entries);
        assert.equal(encoded.length, 5 + entries.length * ENTRY_BYTES);
        assert.deepEqual(decodePackHeader(encoded), withOffsets(entries));
        assert.deepEqual(decodePackHeader(atOffset(encoded)), withOffsets(entries));
      }),
    );
  });

  it('keeps the extremes of every field', () => {
    const entries: PackEntry[] = [
      { type: 'tree', id: 'f'.repeat(64) as PackEntry['id'], compression: 1, length: U32_MAX, rawLength: U32_MAX },
      { type: 'data', id: '0'.repeat(64) as PackEntry['id'], compression: 0, length: 0, rawLength: 0 },
      { type: 'data', id: 'a'.repeat(64) as PackEntry['id'], compression: 0, length: U32_MAX, rawLength: 1 },
    ];
    const decoded = decodePackHeader(encodePackHeader(entries));
    assert.deepEqual(decoded, withOffsets(entries));
    assert.equal(decoded[2]!.offset, U32_MAX);
  });

  const oneEntry = (): Buffer =>
    encodePackHeader([{ type: 'data', id: '1'.repeat(64) as PackEntry['id'], compression: 0, length: 5, rawLength: 5 }]);
  const damaged: [string, () => Uint8Array][] = [
    ['empty input', () => Buffer.alloc(0)],
    ['a version byte only', () => Buffer.of(1)],
    ['four bytes', () => Buffer.of(1, 0, 0, 0)],
    ['version 0', () => Buffer.concat([Buffer.of(0), oneEntry().subarray(1)])],
    ['version 2', () => Buffer.concat([Buffer.of(2), oneEntry().subarray(1)])],
    ['a count larger than the entries', () => Buffer.from(oneEntry()).fill(2, 1, 2)],
    ['a count smaller than the entries', () => Buffer.from(oneEntry()).fill(0, 1, 2)],
    ['a huge count', () => Buffer.from(oneEntry()).fill(0xff, 1, 5)],
    ['a trailing byte', () => Buffer.concat([oneEntry(), Buffer.of(0)])],
    ['a missing byte', () => oneEntry().subarray(0, -1)],
    ['blob type 2', () => Buffer.from(oneEntry()).fill(2, 5, 6)],
    ['compression 2', () => Buffer.from(oneEntry()).fill(2, 6, 7)],
    ['compression 255', () => Buffer.from(oneEntry()).fill(255, 6, 7)],
  ];
  for (const [name, bytes] of damaged) {
    it(`refuses ${name}`, () => assertIntegrityError(() => decodePackHeader(bytes())));
  }
});

describe('sealPackHeader/openPackHeader', () => {
  it('round trips a synthetic pack, whose length is packSizeOf(entries)', () => {
    fc.assert(
      fc.property(packArb, ({ entries, pack }) => {
        assert.equal(pack.length, packSizeOf(entries));
        assert.deepEqual(openPackHeader(KEY, pack), withOffsets(entries));
        assert.deepEqual(openPackHeader(KEY, atOffset(pack)), withOffsets(entries));
      }),
    );
  });

  it('ends the pack with the sealed header length as a little-endian uint32', () => {
    fc.assert(
      fc.property(packArb, ({ pack, headerStart }) => {
        assert.equal(pack.readUInt32LE(pack.length - PACK_TRAILER_BYTES), pack.length - PACK_TRAILER_BYTES - headerStart);
      }),
    );
  });

  it('refuses any flipped bit in the header or the trailer', () => {
    fc.assert(
      fc.property(
        packArb.chain((p) => fc.tuple(fc.constant(p), fc.integer({ min: p.headerStart * 8, max: p.pack.length * 8 - 1 }))),
        ([{ pack }, bit]) => assertIntegrityError(() => openPackHeader(KEY, flipBit(pack, bit))),
      ),
    );
  });

  it('refuses any trailer value but the right one', () => {
    fc.assert(
      fc.property(packArb, fc.integer({ min: 0, max: U32_MAX }), ({ pack }, value) => {
        const damaged = Buffer.from(pack);
        fc.pre(value !== damaged.readUInt32LE(damaged.length - 4));
        damaged.writeUInt32LE(value, damaged.length - 4);
        assertIntegrityError(() => openPackHeader(KEY, damaged));
      }),
    );
  });

  it('refuses a pack with its end cut off', () => {
    fc.assert(
      fc.property(
        packArb.chain((p) => fc.tuple(fc.constant(p), fc.integer({ min: 1, max: p.pack.length }))),
        ([{ pack }, cut]) => assertIntegrityError(() => openPackHeader(KEY, pack.subarray(0, pack.length - cut))),
      ),
    );
  });

  it('refuses blobs that do not exactly fill the space before the header', () => {
    fc.assert(
      fc.property(packArb, fc.integer({ min: -64, max: 64 }), ({ pack, headerStart }, delta) => {
        fc.pre(delta !== 0 && headerStart + delta >= 0);
        const blobs = delta > 0 ? Buffer.concat([pack.subarray(0, headerStart), Buffer.alloc(delta, 0xee)]) : pack.subarray(0, headerStart + delta);
        assertIntegrityError(() => openPackHeader(KEY, Buffer.concat([blobs, pack.subarray(headerStart)])));
      }),
    );
  });

  it('refuses another key', () => {
    fc.assert(
      fc.property(packArb, keyArb, ({ pack }, key) => {
        fc.pre(!key.equals(KEY));
        assertIntegrityError(() => openPackHeader(key, pack));
      }),
    );
  });

  it('refuses a header sealed as something else (another associated data)', () => {
    const header = seal(KEY, encodePackHeader([]), Buffer.from('ferry index v1'));
    const trailer = Buffer.alloc(4);
    trailer.writeUInt32LE(header.length);
    assertIntegrityError(() => openPackHeader(KEY, Buffer.concat([header, trailer])));
  });

  const tiny: [string, Buffer][] = [
    ['an empty pack', Buffer.alloc(0)],
    ['a pack shorter than its trailer', Buffer.of(0, 0, 0)],
    ['a trailer only, declaring an empty header', Buffer.alloc(4)],
    ['a trailer pointing before the start', Buffer.of(0xff, 0xff, 0xff, 0xff)],
  ];
  for (const [name, pack] of tiny) {
    it(`refuses ${name}`, () => assert.throws(() => openPackHeader(KEY, pack), IntegrityError));
  }
});
