/**
 * The inner loop of the chunker: run the gear hash over a byte range until the hash has none of a mask's
 * bits set. This is the hot path of a backup (every byte of input passes through it), so it is written
 * for V8 rather than for reading; bench-chunker.ts measures it, and gear-scan.test.ts holds the two
 * scanners to a plain byte-at-a-time reference.
 *
 * The chunker runs the C version of this loop from the native addon (native/ferry_fs.c, `gearScan`),
 * about three times as fast per CPU second as scanWords; the JavaScript scanners below are its reference
 * (the tests hold all of them to a byte-at-a-time specification and the chunker's boundaries with either
 * to each other) and its fallback when the addon is not built.
 *
 * The hash is `h = (h << 1) + gear[byte]` on 32 bits. It is kept as a signed int32 (`| 0`) over an
 * Int32Array table: measured, `>>> 0` over a Uint32Array was no faster and sometimes fell off V8's fast
 * path after a deoptimization.
 */

import { nativeGearScan } from '../os/posix-extras.js';

/** True when the host stores integers little-endian, which is what scanWords assumes. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Returns the gear hash state after hashing `buf[from, to)` starting from 0. Each step shifts the
 * state left by one bit, so on 32 bits a byte stops influencing the hash 32 bytes later, and only the
 * last 32 bytes of the range need hashing. The chunker uses this to hand the hash from the strict-mask
 * phase to the loose-mask phase without the scanners having to return two values.
 */
export function gearHashAt(buf: Uint8Array, gear: Int32Array, from: number, to: number): number {
  let h = 0;
  for (let i = Math.max(from, to - 32); i < to; i++) h = ((h << 1) + gear[buf[i]!]!) | 0;
  return h;
}

/**
 * Hashes `buf[i]`, `buf[i + 1]`, … starting from state `h` and stops at the first byte after which
 * `(h & mask) === 0`.
 *
 * @returns the index just past that byte, or -1 if no byte in `[i, end)` matches.
 * The caller guarantees `0 <= i <= end <= buf.length`; nothing is checked here.
 */
export type GearScanner = (buf: Uint8Array, gear: Int32Array, h: number, i: number, end: number, mask: number) => number;

/** The portable scanner: one byte per step, unrolled by four to spread V8's per-iteration checks. */
export const scanBytes: GearScanner = (buf, gear, h, i, end, mask) => {
  const end4 = end - 3;
  for (; i < end4; i += 4) {
    h = ((h << 1) + gear[buf[i]!]!) | 0;
    if ((h & mask) === 0) return i + 1;
    h = ((h << 1) + gear[buf[i + 1]!]!) | 0;
    if ((h & mask) === 0) return i + 2;
    h = ((h << 1) + gear[buf[i + 2]!]!) | 0;
    if ((h & mask) === 0) return i + 3;
    h = ((h << 1) + gear[buf[i + 3]!]!) | 0;
    if ((h & mask) === 0) return i + 4;
  }
  for (; i < end; i++) {
    h = ((h << 1) + gear[buf[i]!]!) | 0;
    if ((h & mask) === 0) return i + 1;
  }
  return -1;
};

/**
 * The fast scanner for little-endian hosts: reads the input as aligned 32-bit words, eight bytes per
 * iteration. V8 repeats a map check, a bounds check and a backing-store load on every typed-array
 * access inside a loop, so reading a quarter as many elements from the input is what roughly doubles
 * the speed over scanBytes (measured with bench-chunker.ts on 256 MiB of random data).
 */
export const scanWords: GearScanner = (buf, gear, h, i, end, mask) => {
  // Hash up to the next 4-byte boundary one byte at a time, since Int32Array views must be aligned.
  const head = Math.min(end, i + ((4 - ((buf.byteOffset + i) & 3)) & 3));
  for (; i < head; i++) {
    h = ((h << 1) + gear[buf[i]!]!) | 0;
    if ((h & mask) === 0) return i + 1;
  }
  // Whole pairs of words only; the view is not even built when there are none, because i may then sit
  // unaligned at end, where an Int32Array view cannot start.
  const pairs = ((end - i) >>> 3) << 1;
  if (pairs === 0) return scanBytes(buf, gear, h, i, end, mask);
  const words = new Int32Array(buf.buffer, buf.byteOffset + i, pairs);
  for (let w = 0; w < pairs; w += 2) {
    const x = words[w]!;
    const y = words[w + 1]!;
    const at = i + 4 * w;
    h = ((h << 1) + gear[x & 255]!) | 0;
    if ((h & mask) === 0) return at + 1;
    h = ((h << 1) + gear[(x >>> 8) & 255]!) | 0;
    if ((h & mask) === 0) return at + 2;
    h = ((h << 1) + gear[(x >>> 16) & 255]!) | 0;
    if ((h & mask) === 0) return at + 3;
    h = ((h << 1) + gear[x >>> 24]!) | 0;
    if ((h & mask) === 0) return at + 4;
    h = ((h << 1) + gear[y & 255]!) | 0;
    if ((h & mask) === 0) return at + 5;
    h = ((h << 1) + gear[(y >>> 8) & 255]!) | 0;
    if ((h & mask) === 0) return at + 6;
    h = ((h << 1) + gear[(y >>> 16) & 255]!) | 0;
    if ((h & mask) === 0) return at + 7;
    h = ((h << 1) + gear[y >>> 24]!) | 0;
    if ((h & mask) === 0) return at + 8;
  }
  return scanBytes(buf, gear, h, i + 4 * pairs, end, mask);
};

/** The native addon's scanner (in C), or undefined when the addon is not built. */
export const scanNative: GearScanner | undefined = nativeGearScan();

/** The fastest JavaScript scanner on this host. */
export const scanScript: GearScanner = LITTLE_ENDIAN ? scanWords : scanBytes;

/** The scanner the chunker uses by default on this host; all give identical results. */
export const scanGear: GearScanner = scanNative ?? scanScript;
