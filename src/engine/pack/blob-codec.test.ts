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
import { PackBuilder } from './pack-builder.js';
import { openPackHeader } from './pack-format.js';

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

  it('encodeInto writes the bytes encode would (same format, any size across the 64 KiB sealing pieces), and decodeInto reverses both', () => {
    const sink = new PackBuilder(KEY, 1 << 30);
    const other = new BlobCodec(KEY);
    fc.assert(
      fc.property(blobTypeArb, idArb, fc.oneof(compressibleDataArb(0, 200_000), randomDataArb(0, 200_000)), (type, id, plain) => {
        const reference = codec.encode(type, id, plain);
        let sealed: Buffer | undefined;
        let info: { compression: number; rawLength: number; length: number } | undefined;
        const capture = {
          addSealed(blob: { compression: Compression; rawLength: number; length: number }, seal: (t: Buffer, o: number) => number) {
            const target = Buffer.alloc(blob.length + 10);
            assert.equal(seal(target, 5), blob.length);
            sealed = target.subarray(5, 5 + blob.length);
            info = blob;
          },
        };
        other.encodeInto(capture, type, id, plain);
        assert.deepEqual([info!.compression, info!.rawLength, info!.length], [reference.compression, plain.length, reference.sealed.length]);
        assert.deepEqual(codec.decode(type, id, sealed!, info!.compression as Compression, plain.length), plain);
        const target = Buffer.alloc(plain.length + 3, 0xee);
        assert.deepEqual(other.decodeInto(type, id, sealed!, info!.compression as Compression, plain.length, target), plain);
        assert.deepEqual(other.decodeInto(type, id, reference.sealed, reference.compression, plain.length, target), plain);
        assert.equal(sink.addSealed({ type, id, compression: info!.compression as Compression, rawLength: plain.length, length: sealed!.length }, (t, o) => (sealed!.copy(t, o), sealed!.length)), undefined);
      }),
      { numRuns: 40 },
    );
    const [pack] = sink.finishAll();
    const blobs = openPackHeader(KEY, pack!.bytes);
    for (const blob of blobs) {
      const bytes = pack!.bytes.subarray(blob.offset, blob.offset + blob.length);
      assert.equal(codec.decode(blob.type, blob.id, bytes, blob.compression, blob.rawLength).length, blob.rawLength);
    }
  });

  it('decodeInto refuses what decode refuses, and never writes past a raw blob\'s length', () => {
    fc.assert(
      fc.property(blobArb, fc.nat(), ({ type, id, encoded }, bit) => {
        const target = Buffer.alloc(encoded.rawLength + 64);
        const flipped = flipBit(encoded.sealed, bit % (encoded.sealed.length * 8));
        assertIntegrityError(() => codec.decodeInto(type, id, flipped, encoded.compression, encoded.rawLength, target));
        assertIntegrityError(() => codec.decodeInto(type === 'data' ? 'tree' : 'data', id, encoded.sealed, encoded.compression, encoded.rawLength, target));
        if (encoded.compression === Compression.None && encoded.rawLength > 0) {
          const short = Buffer.alloc(encoded.rawLength - 1 + 64, 0x11);
          assertIntegrityError(() => codec.decodeInto(type, id, encoded.sealed, encoded.compression, encoded.rawLength - 1, short));
          assert.ok(short.every((b) => b === 0x11), 'nothing written');
        }
      }),
      { numRuns: 50 },
    );
  });
});
