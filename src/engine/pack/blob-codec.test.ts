import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Compression } from '../compress/zstd.js';
import { SEAL_OVERHEAD } from '../crypto/aead.js';
import {
  assertIntegrityError,
  blobTypeArb,
  bytesArb,
  compressibleDataArb,
  flipBit,
  idArb,
  randomDataArb,
} from '../testing/arbitraries.js';
import { BlobCodec } from './blob-codec.js';

fc.configureGlobal({ seed: 42, numRuns: 100 });

const KEY = Buffer.alloc(32, 0x22);
const codec = new BlobCodec(KEY);

/** Any blob: compressible or not. */
const plainArb = fc.oneof(bytesArb(2048), compressibleDataArb(0, 20_000), randomDataArb(0, 20_000));
const blobArb = fc
  .record({ type: blobTypeArb, id: idArb, plain: plainArb })
  .map((b) => ({ ...b, encoded: codec.encode(b.type, b.id, b.plain) }));

describe('BlobCodec', () => {
  it('round trips compressible data, stored compressed', () => {
    fc.assert(
      fc.property(blobTypeArb, idArb, compressibleDataArb(256, 50_000), (type, id, plain) => {
        const blob = codec.encode(type, id, plain);
        assert.equal(blob.compression, Compression.Zstd);
        assert.ok(blob.sealed.length < plain.length, 'compression saved space');
        assert.deepEqual([blob.type, blob.id, blob.rawLength], [type, id, plain.length]);
        assert.deepEqual(codec.decode(type, id, blob.sealed, blob.compression, blob.rawLength), plain);
      }),
    );
  });

  it('round trips incompressible data, stored with compression None', () => {
    fc.assert(
      fc.property(blobTypeArb, idArb, randomDataArb(0, 50_000), (type, id, plain) => {
        const blob = codec.encode(type, id, plain);
        assert.equal(blob.compression, Compression.None);
        assert.equal(blob.sealed.length, plain.length + SEAL_OVERHEAD);
        assert.deepEqual(codec.decode(type, id, blob.sealed, blob.compression, blob.rawLength), plain);
      }),
    );
  });

  it('round trips any bytes with another codec of the same key and any compression level', () => {
    fc.assert(
      fc.property(blobArb, fc.integer({ min: 1, max: 19 }), ({ type, id, plain, encoded }, level) => {
        assert.deepEqual(new BlobCodec(KEY, level).decode(type, id, encoded.sealed, encoded.compression, encoded.rawLength), plain);
      }),
      { numRuns: 20 },
    );
  });

  it('refuses the blob under another id', () => {
    fc.assert(
      fc.property(blobArb, idArb, ({ type, id, encoded }, other) => {
        fc.pre(other !== id);
        assertIntegrityError(() => codec.decode(type, other, encoded.sealed, encoded.compression, encoded.rawLength));
      }),
    );
  });

  it('refuses the blob as the other type', () => {
    fc.assert(
      fc.property(blobArb, ({ type, id, encoded }) => {
        const other = type === 'data' ? 'tree' : 'data';
        assertIntegrityError(() => codec.decode(other, id, encoded.sealed, encoded.compression, encoded.rawLength));
      }),
    );
  });

  it('refuses a wrong rawLength', () => {
    fc.assert(
      fc.property(blobArb, fc.integer({ min: -1000, max: 1000 }), ({ type, id, encoded }, delta) => {
        fc.pre(delta !== 0 && encoded.rawLength + delta >= 0);
        assertIntegrityError(() => codec.decode(type, id, encoded.sealed, encoded.compression, encoded.rawLength + delta));
      }),
    );
  });

  it('refuses any flipped bit', () => {
    fc.assert(
      fc.property(
        blobArb.chain((b) => fc.tuple(fc.constant(b), fc.nat({ max: b.encoded.sealed.length * 8 - 1 }))),
        ([{ type, id, encoded }, bit]) =>
          assertIntegrityError(() => codec.decode(type, id, flipBit(encoded.sealed, bit), encoded.compression, encoded.rawLength)),
      ),
    );
  });

  it('refuses another key', () => {
    const other = new BlobCodec(Buffer.alloc(32, 0x23));
    fc.assert(
      fc.property(blobArb, ({ type, id, encoded }) =>
        assertIntegrityError(() => other.decode(type, id, encoded.sealed, encoded.compression, encoded.rawLength)),
      ),
    );
  });

  it('refuses a compressed blob read as stored raw, and a non-empty raw blob read as compressed', () => {
    fc.assert(
      fc.property(fc.oneof(compressibleDataArb(256, 20_000), randomDataArb(1, 20_000)), blobTypeArb, idArb, (plain, type, id) => {
        const blob = codec.encode(type, id, plain);
        const other = blob.compression === Compression.None ? Compression.Zstd : Compression.None;
        assertIntegrityError(() => codec.decode(type, id, blob.sealed, other, blob.rawLength));
      }),
    );
  });

  it('seals the same plaintext differently each time', () => {
    const id = 'ab'.repeat(32) as Parameters<BlobCodec['encode']>[1];
    const a = codec.encode('data', id, Buffer.from('same bytes'));
    const b = codec.encode('data', id, Buffer.from('same bytes'));
    assert.notDeepEqual(a.sealed, b.sealed);
  });
});
