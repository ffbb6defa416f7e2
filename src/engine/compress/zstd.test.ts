import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { assertIntegrityError, bytesArb, compressibleDataArb, randomDataArb, seededBytes } from '../testing/arbitraries.js';
import { BlobCompressor } from './zstd.js';

fc.configureGlobal({ seed: 42, numRuns: 100 });

const compressor = new BlobCompressor();
const ZSTD_MAGIC = Buffer.of(0x28, 0xb5, 0x2f, 0xfd);

describe('BlobCompressor', () => {
  it('leaves inputs under 128 bytes uncompressed, however compressible', () => {
    fc.assert(fc.property(fc.oneof(bytesArb(127), compressibleDataArb(0, 127)), (data) => assert.equal(compressor.compress(data), undefined)));
    assert.equal(compressor.compress(Buffer.alloc(127)), undefined);
    assert.notEqual(compressor.compress(Buffer.alloc(128)), undefined);
  });

  it('leaves random data uncompressed', () => {
    fc.assert(fc.property(randomDataArb(0, 100_000), (data) => assert.equal(compressor.compress(data), undefined)));
  });

  it('compresses only when that saves at least max(64 bytes, 1/32 of the input)', () => {
    // Random bytes followed by a run of zeros: the run's length decides whether compression pays.
    let compressed = 0;
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 8192 }), fc.integer({ min: 0, max: 600 }), (seed, random, zeros) => {
        const data = Buffer.concat([seededBytes(seed, random), Buffer.alloc(zeros)]);
        fc.pre(data.length >= 128);
        const packed = compressor.compress(data);
        if (packed) {
          compressed++;
          assert.ok(packed.length + Math.max(64, data.length >>> 5) <= data.length, `${packed.length} of ${data.length}`);
        }
      }),
    );
    assert.ok(compressed > 0, 'some inputs were compressed');
  });

  it('round trips compressible data, with and without the expected length', () => {
    fc.assert(
      fc.property(compressibleDataArb(128, 100_000), (data) => {
        const packed = compressor.compress(data);
        assert.ok(packed, 'compressible data is compressed');
        assert.ok(packed.subarray(0, 4).equals(ZSTD_MAGIC), 'a standard zstd frame');
        assert.deepEqual(compressor.decompress(packed, data.length), data);
        assert.deepEqual(compressor.decompress(packed), data);
      }),
    );
  });

  it('round trips at every compression level', () => {
    const data = Buffer.from('ferry '.repeat(2000));
    for (let level = 1; level <= 19; level++) {
      const c = new BlobCompressor(level);
      assert.deepEqual(c.decompress(c.compress(data)!, data.length), data, `level ${level}`);
    }
  });

  it('refuses a wrong expected length', () => {
    fc.assert(
      fc.property(compressibleDataArb(128, 20_000), fc.integer({ min: -100, max: 100 }), (data, delta) => {
        fc.pre(delta !== 0 && data.length + delta >= 0);
        assertIntegrityError(() => compressor.decompress(compressor.compress(data)!, data.length + delta));
      }),
    );
  });

  it('refuses garbage', () => {
    fc.assert(fc.property(randomDataArb(1, 4096), (garbage) => assertIntegrityError(() => compressor.decompress(garbage))));
  });

  it('refuses garbage after a zstd magic number', () => {
    fc.assert(
      fc.property(randomDataArb(1, 4096), (garbage) => assertIntegrityError(() => compressor.decompress(Buffer.concat([ZSTD_MAGIC, garbage])))),
    );
  });

  it('refuses a truncated frame or bytes after it', () => {
    fc.assert(
      fc.property(compressibleDataArb(1000, 20_000), fc.integer({ min: 1, max: 16 }), fc.boolean(), (data, n, cut) => {
        const packed = compressor.compress(data)!;
        const damaged = cut ? packed.subarray(0, Math.max(0, packed.length - n)) : Buffer.concat([packed, seededBytes(n, n)]);
        fc.pre(damaged.length > 0);
        assertIntegrityError(() => compressor.decompress(damaged, data.length));
      }),
    );
  });

  it('keeps working after refusing damaged input', () => {
    const data = Buffer.from('abc'.repeat(1000));
    assertIntegrityError(() => compressor.decompress(seededBytes(1, 100)));
    assert.deepEqual(compressor.decompress(compressor.compress(data)!, data.length), data);
  });

  it('compresses inputs of growing size (up to 8 MiB) into one scratch buffer, made once', () => {
    const fresh = new BlobCompressor();
    const line = Buffer.from('a line of text that zstd compresses well, again and again\n');
    const scratches = new Set<ArrayBufferLike>();
    for (const size of [1000, 64 * 1024, 1024 * 1024 + 5, 3 * 1024 * 1024, 8 * 1024 * 1024]) {
      const data = Buffer.alloc(size);
      for (let at = 0; at < size; at += line.length) line.copy(data, at);
      const packed = fresh.compressToScratch(data);
      assert.ok(packed, `${size} bytes compress`);
      assert.deepEqual(fresh.decompress(packed, size), data);
      scratches.add(packed.buffer);
    }
    // Grown by doubling, each larger input took a new buffer and left the outgrown one as garbage.
    assert.equal(scratches.size, 1);
  });
});
