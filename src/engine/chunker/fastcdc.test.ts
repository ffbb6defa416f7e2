import assert from 'node:assert/strict';
import { createCipheriv, createHash, hkdfSync } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { chunkBuffer, DEFAULT_CHUNKER_PARAMS, FastCdc, spreadMask, validateChunkerParams, type ChunkerParams } from './fastcdc.js';
import { scanNative, scanScript } from './gear-scan.js';
import { gearTableFromSecret } from './gear-table.js';

const SMALL: ChunkerParams = { minSize: 256, avgSize: 1024, maxSize: 8192 };
const secret = (s: string): Uint8Array => Buffer.from(s);
const GEAR = gearTableFromSecret(secret('ferry test secret'));
const small = new FastCdc(SMALL, GEAR);

/** Seeded pseudo-random bytes (AES-128-CTR keystream): reproducible and as random as the chunker can tell. */
function seededBytes(seed: number, length: number): Buffer {
  const key = createHash('sha256').update(`seed ${seed}`).digest().subarray(0, 16);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length));
}

function lengths(cdc: FastCdc, data: Uint8Array): number[] {
  return [...chunkBuffer(cdc, data)].map(([, length]) => length);
}

/** The contract written as plainly as possible: one byte at a time, unsigned arithmetic, one loop. */
function referenceCut(cdc: FastCdc, gear: Uint32Array, buf: Uint8Array, start: number, end: number): number {
  if (end - start <= cdc.minSize) return end - start;
  const n = Math.min(end - start, cdc.maxSize);
  let h = 0;
  for (let k = cdc.minSize; k < n; k++) {
    h = ((h << 1) + gear[buf[start + k]!]!) >>> 0;
    if ((h & (k < cdc.avgSize ? cdc.maskS : cdc.maskL)) === 0) return k + 1;
  }
  return n;
}

function assertTiling(cdc: FastCdc, data: Uint8Array, sizes: number[]): void {
  assert.equal(sizes.reduce((a, b) => a + b, 0), data.length);
  sizes.forEach((size, k) => {
    const min = k === sizes.length - 1 ? 1 : cdc.minSize;
    assert.ok(size >= min && size <= cdc.maxSize, `chunk ${k} of ${sizes.length} has ${size} bytes`);
  });
}

describe('validateChunkerParams', () => {
  const valid: ChunkerParams[] = [DEFAULT_CHUNKER_PARAMS, SMALL, { minSize: 64, avgSize: 128, maxSize: 129 }, { minSize: 1000, avgSize: 4096, maxSize: 64 * 1024 * 1024 }];
  for (const p of valid) it(`accepts ${JSON.stringify(p)}`, () => validateChunkerParams(p));

  const invalid: [string, ChunkerParams][] = [
    ['minSize below 64', { minSize: 63, avgSize: 1024, maxSize: 8192 }],
    ['avgSize not a power of two', { minSize: 256, avgSize: 1000, maxSize: 8192 }],
    ['avgSize equal to minSize', { minSize: 1024, avgSize: 1024, maxSize: 8192 }],
    ['maxSize equal to avgSize', { minSize: 256, avgSize: 1024, maxSize: 1024 }],
    ['maxSize above 64 MiB', { minSize: 256, avgSize: 1024, maxSize: 64 * 1024 * 1024 + 1 }],
    ['a fractional size', { minSize: 256.5, avgSize: 1024, maxSize: 8192 }],
    ['NaN', { minSize: Number.NaN, avgSize: 1024, maxSize: 8192 }],
  ];
  for (const [name, p] of invalid) {
    it(`rejects ${name}`, () => {
      assert.throws(() => validateChunkerParams(p), RangeError);
      assert.throws(() => new FastCdc(p, GEAR), RangeError);
    });
  }

  it('FastCdc rejects a gear table of the wrong length', () => {
    assert.throws(() => new FastCdc(SMALL, new Uint32Array(255)), RangeError);
  });
});

describe('spreadMask', () => {
  for (let bits = 5; bits <= 27; bits++) {
    it(`has ${bits} bits including bit 31${bits <= 16 ? ', all in the high half' : ''}`, () => {
      const mask = spreadMask(bits) >>> 0;
      assert.equal(mask.toString(2).replace(/0/g, '').length, bits);
      assert.ok(mask >= 0x80000000);
      if (bits <= 16) assert.equal(mask & 0xffff, 0);
    });
  }
});

describe('gearTableFromSecret', () => {
  it('is deterministic, little-endian HKDF output, and pinned for format v1', () => {
    const s = secret('ferry test secret');
    const table = gearTableFromSecret(s);
    assert.deepEqual(table, gearTableFromSecret(s));
    assert.equal(table.length, 256);
    const okm = Buffer.from(hkdfSync('sha256', s, Buffer.alloc(0), 'ferry gear table v1', 1024));
    for (let k = 0; k < 256; k++) assert.equal(table[k], okm.readUInt32LE(4 * k));
    assert.deepEqual([...table.subarray(0, 4)], GOLDEN_GEAR_HEAD);
  });

  it('differs per secret', () => {
    const a = gearTableFromSecret(secret('repository a'));
    const b = gearTableFromSecret(secret('repository b'));
    assert.notDeepEqual(a, b);
    assert.ok(a.filter((v, k) => v === b[k]).length < 4);
  });
});

describe('FastCdc.findCut', () => {
  it('checks its range and handles empty and short inputs', () => {
    const buf = seededBytes(1, 1000);
    assert.throws(() => small.findCut(buf, 10, 5), RangeError);
    assert.throws(() => small.findCut(buf, 0, 1001), RangeError);
    assert.throws(() => small.findCut(buf, -1, 10), RangeError);
    assert.throws(() => small.findCut(buf, 0.5, 10), RangeError);
    assert.equal(small.findCut(buf, 7, 7), 0);
    assert.equal(small.findCut(buf, 0, 1), 1);
    assert.equal(small.findCut(buf, 100, 100 + SMALL.minSize), SMALL.minSize);
    assert.deepEqual([...chunkBuffer(small, new Uint8Array(0))], []);
  });

  it('matches the one-loop reference, wherever the range sits in the buffer', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 12_000 }), fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 100 }), (seed, length, before, after) => {
        const buf = seededBytes(seed, before + length + after);
        assert.equal(small.findCut(buf, before, before + length), referenceCut(small, GEAR, buf, before, before + length));
      }),
      { numRuns: 300 },
    );
  });

  // A crafted table puts boundaries exactly where the test wants. Byte 0 keeps the hash at 0x80000000
  // (bit 31 is in both masks: never a boundary), byte 1 zeroes it (always a boundary), byte 2 matches
  // only the loose mask and byte 3 right after byte 2 zeroes the hash. Together they pin the switch
  // from the strict to the loose mask to exactly avgSize, at every alignment of the window.
  it('cuts exactly where the hash matches, with the mask switching at avgSize', () => {
    const { minSize: min, avgSize: avg, maxSize: max } = SMALL;
    const gear = new Uint32Array(256).fill(0x80000000);
    gear[1] = 0;
    const probe = new FastCdc(SMALL, gear);
    gear[2] = probe.maskS & ~probe.maskL;
    gear[3] = -(gear[2] << 1) >>> 0;
    const cdc = new FastCdc(SMALL, gear);
    const cases: [number, number[], number][] = [
      [min - 1, [1], max], [min, [1], min + 1], [avg - 1, [1], avg], [avg, [1], avg + 1], [max - 1, [1], max], [max, [1], max],
      [min, [2, 3], min + 2], [avg - 2, [2, 3], avg], [avg - 1, [2, 3], avg + 1], [avg, [2, 3], avg + 1], [max - 1, [2, 3], max],
    ];
    for (const [at, bytes, expected] of cases) {
      for (let offset = 0; offset < 8; offset++) {
        const buf = new Uint8Array(offset + max + 100);
        buf.set(bytes, offset + at);
        assert.equal(cdc.findCut(buf, offset, buf.length), expected, `bytes ${bytes.join(',')} at ${at}, offset ${offset}`);
        assert.equal(referenceCut(cdc, gear, buf, offset, buf.length), expected);
      }
    }
  });
});

describe('FastCdc.findBoundary', () => {
  it('answers only what more bytes cannot change: -1, or the cut findCut gives on the whole input', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 30_000 }), fc.nat({ max: 20_000 }), fc.nat({ max: 20_000 }), fc.nat({ max: 20_000 }), (seed, length, a, b, c) => {
        // Some inputs repeat a byte, where no boundary is found before maxSize.
        const data = seed % 4 === 0 ? Buffer.alloc(length, seed & 255) : seededBytes(seed, length);
        const start = Math.min(a, length);
        const end = Math.min(start + b, length);
        const cut = small.findBoundary(data, start, end);
        if (end - start >= small.maxSize) assert.equal(cut, small.findCut(data, start, end));
        if (end - start <= small.minSize) assert.equal(cut, -1);
        if (cut !== -1) {
          assert.equal(cut, small.findCut(data, start, length), `[${start}, ${end}) of ${length}`);
          assert.equal(cut, referenceCut(small, GEAR, data, start, length));
        }
        // Final: exactly findCut.
        assert.equal(small.findBoundary(data, start, end, start, true), small.findCut(data, start, end));
        // Resumed after an undecided answer: the same answer as a scan from the start, final or not.
        const later = Math.min(end + c, length);
        if (cut === -1) {
          assert.equal(small.findBoundary(data, start, later, end), small.findBoundary(data, start, later));
          assert.equal(small.findBoundary(data, start, later, end, true), small.findCut(data, start, later));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('decides a boundary as soon as its byte is at hand, and checks its range', () => {
    const data = seededBytes(7, 100_000);
    const cut = small.findCut(data, 0, data.length);
    assert.ok(cut < small.maxSize);
    assert.equal(small.findBoundary(data, 0, cut), cut);
    assert.equal(small.findBoundary(data, 0, cut - 1), -1);
    assert.equal(small.findBoundary(data, 0, cut, cut - 1), cut);
    assert.throws(() => small.findBoundary(data, 5, 4), RangeError);
    assert.throws(() => small.findBoundary(data, 0, data.length + 1), RangeError);
    assert.throws(() => small.findBoundary(data, 10, 20, 5), RangeError);
    assert.throws(() => small.findBoundary(data, 10, 20, 21), RangeError);
  });
});

describe('chunkBuffer', () => {
  it('tiles the input with chunks in [minSize, maxSize], the last in [1, maxSize]', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 100_000 }), (seed, length) => {
        const data = seededBytes(seed, length);
        assertTiling(small, data, lengths(small, data));
      }),
      { numRuns: 200 },
    );
  });

  it('gives the same cuts for a streaming caller that keeps at least maxSize bytes in its window', () => {
    fc.assert(
      fc.property(fc.nat(), fc.array(fc.integer({ min: 1, max: 20_000 }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: 3 }), (seed, pieces, slack) => {
        const data = seededBytes(seed, 60_000);
        assert.deepEqual(streamLengths(small, data, pieces, slack), lengths(small, data));
      }),
      { numRuns: 200 },
    );
  });

  it('matches the reference with the default parameters on a few MiB', () => {
    const cdc = new FastCdc(DEFAULT_CHUNKER_PARAMS, GEAR);
    for (const seed of [1, 2]) {
      const data = seededBytes(seed, 7 * 1024 * 1024 + 12_345);
      const sizes = lengths(cdc, data);
      assertTiling(cdc, data, sizes);
      let offset = 0;
      for (const size of sizes) {
        assert.equal(size, referenceCut(cdc, GEAR, data, offset, data.length));
        offset += size;
      }
    }
  });

  it('changes only the chunks around an insertion', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 200_000 - 1 }), fc.integer({ min: 1, max: 16 }), (seed, at, inserted) => {
        const a = seededBytes(seed, 200_000);
        const b = Buffer.concat([a.subarray(0, at), seededBytes(seed + 1, inserted), a.subarray(at)]);
        const chunksA = [...chunkBuffer(small, a)].map(([o, l]) => a.toString('latin1', o, o + l));
        const chunksB = [...chunkBuffer(small, b)].map(([o, l]) => b.toString('latin1', o, o + l));
        let prefix = 0;
        while (prefix < chunksA.length && chunksA[prefix] === chunksB[prefix]) prefix++;
        let suffix = 0;
        while (suffix < chunksA.length - prefix && chunksA.at(-1 - suffix) === chunksB.at(-1 - suffix)) suffix++;
        // Chunks ending before the insertion cannot change: findCut reads nothing past the cut.
        const endsBefore = [...chunkBuffer(small, a)].filter(([o, l]) => o + l <= at).length;
        assert.ok(prefix >= endsBefore, `prefix ${prefix} < ${endsBefore}`);
        assert.ok(chunksA.length - prefix - suffix <= 4, `${chunksA.length - prefix - suffix} chunks of a changed`);
        assert.ok(chunksB.length - prefix - suffix <= 4, `${chunksB.length - prefix - suffix} chunks of b changed`);
      }),
      { numRuns: 100, seed: 20_240_601 },
    );
  });

  it('cuts different boundaries under different secrets', () => {
    const data = seededBytes(7, 100_000);
    const a = lengths(new FastCdc(SMALL, gearTableFromSecret(secret('repository a'))), data);
    const b = lengths(new FastCdc(SMALL, gearTableFromSecret(secret('repository b'))), data);
    assert.notDeepEqual(a, b);
  });

  it('averages within 30 % of avgSize on random data', () => {
    const params: ChunkerParams[] = [SMALL, { minSize: 16 * 1024, avgSize: 64 * 1024, maxSize: 512 * 1024 }];
    for (const p of params) {
      const data = seededBytes(3, 32 * 1024 * 1024);
      const mean = data.length / lengths(new FastCdc(p, GEAR), data).length;
      assert.ok(Math.abs(mean - p.avgSize) <= 0.3 * p.avgSize, `mean ${mean} for avgSize ${p.avgSize}`);
    }
  });

  // Zeros hash to a constant after 32 bytes, so whether they ever cut depends on the table alone; for
  // these fixed tables they do not (a table has roughly a 2^-bits chance of cutting inside zeros).
  it('cuts zero-filled input at maxSize', () => {
    for (const [p, length] of [[SMALL, 100_000], [DEFAULT_CHUNKER_PARAMS, 20 * 1024 * 1024]] as const) {
      for (const s of ['ferry test secret', 'repository a']) {
        const sizes = lengths(new FastCdc(p, gearTableFromSecret(secret(s))), new Uint8Array(length));
        assert.deepEqual(sizes.slice(0, -1), new Array<number>(sizes.length - 1).fill(p.maxSize));
        assert.equal(sizes.at(-1), length % p.maxSize || p.maxSize);
      }
    }
  });

  it('keeps the boundaries of format v1', () => {
    assert.deepEqual(lengths(small, seededBytes(42, 20_000)), GOLDEN_LENGTHS);
  });
});

describe('the native scanner against the JavaScript one', () => {
  // Any valid parameters: avgSize 128 B to 32 MiB, minSize from 64 to just below it, maxSize from just
  // above it to 64 MiB (small ones more often, so most inputs hold several chunks).
  const paramsArb = fc.integer({ min: 7, max: 25 }).chain((bits) => {
    const avg = 2 ** bits;
    return fc.record({
      minSize: fc.oneof(fc.integer({ min: 64, max: avg - 1 }), fc.constant(Math.max(64, avg / 4)), fc.constant(avg - 1)),
      avgSize: fc.constant(avg),
      maxSize: fc.oneof(fc.integer({ min: avg + 1, max: Math.min(64 * 1024 * 1024, avg * 8) }), fc.integer({ min: avg + 1, max: 64 * 1024 * 1024 }), fc.constant(avg + 1)),
    });
  });
  // Random bytes, a repeated byte (no boundary: cut at maxSize), or a few distinct bytes (rare matches).
  const dataArb = fc.record({ seed: fc.nat(), kind: fc.constantFrom('random', 'repeated', 'sparse'), sizeSeed: fc.nat(), slack: fc.integer({ min: 0, max: 7 }) });

  function input(p: ChunkerParams, { seed, kind, sizeSeed, slack }: { seed: number; kind: string; sizeSeed: number; slack: number }): Uint8Array {
    // Up to four maximum chunks, at most 512 KiB (the test with the defaults below cuts MiB-sized chunks);
    // at an odd byteOffset now and then.
    const length = sizeSeed % (Math.min(4 * p.maxSize, 512 * 1024) + 1);
    const bytes = kind === 'repeated' ? Buffer.alloc(length, seed & 255) : seededBytes(seed, length);
    if (kind === 'sparse') for (let i = 0; i < bytes.length; i++) bytes[i] = bytes[i]! & 3;
    const framed = new Uint8Array(slack + length);
    framed.set(bytes, slack);
    return framed.subarray(slack);
  }

  it('is built: the addon exports gearScan, and the chunker uses it', () => {
    assert.ok(scanNative, 'the native addon has no gearScan: run `npm ci` (node-gyp) to build build/Release/ferry_fs.node');
  });

  it('cuts byte-identical chunks with any parameters, whole and streamed', () => {
    assert.ok(scanNative);
    fc.assert(
      fc.property(paramsArb, dataArb, fc.array(fc.integer({ min: 1, max: 100_000 }), { minLength: 1, maxLength: 4 }), (p, d, pieces) => {
        const data = input(p, d);
        const script = new FastCdc(p, GEAR, scanScript);
        const native = new FastCdc(p, GEAR, scanNative);
        const expected = lengths(script, data);
        assert.deepEqual(lengths(native, data), expected);
        assert.deepEqual(boundaryLengths(native, data, pieces), expected);
      }),
      { numRuns: 200 },
    );
  });

  it('cuts byte-identical chunks with the default parameters on a few MiB of random data', () => {
    assert.ok(scanNative);
    const data = seededBytes(3, 9 * 1024 * 1024 + 777);
    assert.deepEqual(lengths(new FastCdc(DEFAULT_CHUNKER_PARAMS, GEAR, scanNative), data), lengths(new FastCdc(DEFAULT_CHUNKER_PARAMS, GEAR, scanScript), data));
  });
});

/**
 * Cuts `data` the way the archiver's read loop does: a buffer of one maximum chunk (or the whole input,
 * when shorter) filled by reads of the given sizes (cycled), findBoundary on what is at hand, the
 * undecided tail moved to the front and its scan resumed.
 */
function boundaryLengths(cdc: FastCdc, data: Uint8Array, reads: number[]): number[] {
  const buffer = new Uint8Array(Math.min(cdc.maxSize, Math.max(1, data.length)));
  const out: number[] = [];
  let [start, end, scanned, fed, read] = [0, 0, 0, 0, 0];
  for (;;) {
    const eof = fed === data.length;
    if (eof && start === end) return out;
    if (eof || end === buffer.length) {
      const cut = cdc.findBoundary(buffer, start, end, scanned, eof);
      if (cut > 0) {
        out.push(cut);
        start += cut;
        scanned = start;
        continue;
      }
      scanned = end - start;
      buffer.copyWithin(0, start, end);
      end -= start;
      start = 0;
    }
    const n = Math.min(reads[read++ % reads.length]!, buffer.length - end, data.length - fed);
    buffer.set(data.subarray(fed, fed + n), end);
    end += n;
    fed += n;
  }
}

/** Feeds `data` in pieces of the given sizes (cycled) into a window, cutting whenever ≥ maxSize bytes or the end are available. */
function streamLengths(cdc: FastCdc, data: Uint8Array, pieces: number[], slack: number): number[] {
  let window = new Uint8Array(0);
  let pos = 0;
  let fed = 0;
  let piece = 0;
  const out: number[] = [];
  for (;;) {
    if (window.length - pos < cdc.maxSize && fed < data.length) {
      // Rebuild the window at a varying byteOffset so the scanners see every alignment.
      const next = data.subarray(fed, fed + pieces[piece++ % pieces.length]!);
      const grown = new Uint8Array(slack + window.length - pos + next.length).subarray(slack);
      grown.set(window.subarray(pos));
      grown.set(next, window.length - pos);
      window = grown;
      pos = 0;
      fed += next.length;
      continue;
    }
    if (pos === window.length) return out;
    const length = cdc.findCut(window, pos, window.length);
    out.push(length);
    pos += length;
  }
}

// Pinned from the first implementation: a change here breaks deduplication against existing repositories.
const GOLDEN_GEAR_HEAD = [3874828608, 4229912810, 2648265067, 2567964357];
const GOLDEN_LENGTHS = [1676, 1281, 1336, 1203, 1414, 2777, 1327, 2055, 1067, 1109, 675, 1256, 1261, 1162, 401];
