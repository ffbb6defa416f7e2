/**
 * FastCDC content-defined chunking (Xia et al., "FastCDC: a Fast and Efficient Content-Defined Chunking
 * Approach for Data Deduplication", USENIX ATC 2016) with normalized chunking at level 2.
 *
 * Boundaries depend only on the bytes near them, so an insertion or deletion in a file changes only the
 * chunks around the edit and the rest still deduplicate.
 */
import { gearHashAt, scanGear, type GearScanner } from './gear-scan.js';

/** Chunk size limits in bytes. See validateChunkerParams for the accepted ranges. */
export interface ChunkerParams {
  /** No chunk except the last of an input is shorter; the chunker does not even hash these bytes. */
  minSize: number;
  /** The size the mask switch aims at; a power of two. */
  avgSize: number;
  /** No chunk is longer; a chunk that finds no boundary is cut here. */
  maxSize: number;
}

/** The parameters of new repositories: 512 KiB / 1 MiB / 8 MiB. */
export const DEFAULT_CHUNKER_PARAMS: Readonly<ChunkerParams> = Object.freeze({
  minSize: 512 * 1024,
  avgSize: 1024 * 1024,
  maxSize: 8 * 1024 * 1024,
});

const MIN_MIN_SIZE = 64;
const MAX_MAX_SIZE = 64 * 1024 * 1024;
const GEAR_ENTRIES = 256;

/**
 * Checks chunker parameters, typically read from a repository's config.
 *
 * Requires integers with `64 <= minSize < avgSize < maxSize <= 64 MiB` and `avgSize` a power of two
 * (its log2 sets the number of mask bits). `minSize` and `maxSize` need not be powers of two.
 * @throws RangeError naming the first offending field.
 */
export function validateChunkerParams(p: ChunkerParams): void {
  for (const field of ['minSize', 'avgSize', 'maxSize'] as const) {
    if (!Number.isSafeInteger(p[field])) throw new RangeError(`chunker ${field} must be an integer, got ${p[field]}`);
  }
  if (p.minSize < MIN_MIN_SIZE) throw new RangeError(`chunker minSize must be at least ${MIN_MIN_SIZE}, got ${p.minSize}`);
  if (p.avgSize <= p.minSize) throw new RangeError(`chunker avgSize ${p.avgSize} must exceed minSize ${p.minSize}`);
  if ((p.avgSize & (p.avgSize - 1)) !== 0) throw new RangeError(`chunker avgSize must be a power of two, got ${p.avgSize}`);
  if (p.maxSize <= p.avgSize) throw new RangeError(`chunker maxSize ${p.maxSize} must exceed avgSize ${p.avgSize}`);
  if (p.maxSize > MAX_MAX_SIZE) throw new RangeError(`chunker maxSize must be at most ${MAX_MAX_SIZE}, got ${p.maxSize}`);
}

/**
 * Builds a mask with `bits` one-bits spread evenly over the top of the 32-bit hash. The high bits of a
 * gear hash depend on the most bytes (bit k on the last k + 1), so the paper places the mask there with
 * zero padding between bits to widen the window that decides a boundary. When the mask fits in the high
 * half (avgSize up to 16 KiB) it stays there; larger masks spread over the whole word. Bit 31 is always
 * set. The layout is part of the repository format: changing it moves every boundary and so stops new
 * backups from deduplicating against old ones.
 */
export function spreadMask(bits: number): number {
  const span = bits <= 16 ? 16 : 32;
  let mask = 0;
  for (let i = 0; i < bits; i++) mask |= 1 << (31 - Math.floor((i * span) / bits));
  return mask | 0;
}

/**
 * A FastCDC chunker for one parameter set and gear table. Immutable and stateless between calls, so one
 * instance may serve any number of concurrent streams.
 */
export class FastCdc {
  readonly minSize: number;
  readonly avgSize: number;
  readonly maxSize: number;
  /** Strict mask (log2(avg) + 2 bits) used before avgSize, making early cuts rarer. */
  readonly maskS: number;
  /** Loose mask (log2(avg) - 2 bits) used after avgSize, making late cuts likelier. */
  readonly maskL: number;
  // A private int32 copy: the scanners want signed arithmetic, and the caller's table may change later.
  private readonly gear: Int32Array;

  /**
   * @param params validated with validateChunkerParams.
   * @param gear 256 entries, normally from gearTableFromSecret.
   * @param scan the inner loop; every scanner gives the same boundaries (tests pass the JavaScript one to
   *   hold the native one to it).
   * @throws RangeError on invalid params or a table of the wrong length.
   */
  constructor(
    params: ChunkerParams,
    gear: Uint32Array,
    private readonly scan: GearScanner = scanGear,
  ) {
    validateChunkerParams(params);
    if (gear.length !== GEAR_ENTRIES) throw new RangeError(`gear table must have ${GEAR_ENTRIES} entries, got ${gear.length}`);
    this.minSize = params.minSize;
    this.avgSize = params.avgSize;
    this.maxSize = params.maxSize;
    const bits = Math.log2(params.avgSize);
    this.maskS = spreadMask(bits + 2);
    this.maskL = spreadMask(bits - 2);
    this.gear = Int32Array.from(gear, (v) => v | 0);
  }

  /**
   * Returns the length of the chunk that starts at `buf[start]`, reading only `buf[start, start +
   * min(end - start, maxSize))`.
   *
   * - `end - start <= minSize`: returns `end - start`.
   * - Otherwise returns the length up to and including the first boundary byte, which lies in
   *   `(minSize, maxSize]`; if none is found it returns `maxSize`, or `end - start` when that is smaller.
   * - Never returns more than maxSize, nor less than 1 when `end > start`; returns 0 when `end === start`.
   *
   * The result depends only on the bytes read, so a streaming caller gets the same boundaries as
   * chunkBuffer on the whole input as long as it passes at least maxSize bytes (`end - start >= maxSize`)
   * except at the end of the input, where a short result is the final chunk.
   * @throws RangeError unless `start` and `end` are integers with `0 <= start <= end <= buf.length`.
   */
  findCut(buf: Uint8Array, start: number, end: number): number {
    if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= buf.length)) {
      throw new RangeError(`findCut range [${start}, ${end}) is outside a buffer of ${buf.length} bytes`);
    }
    const available = end - start;
    if (available <= this.minSize) return available;
    const limit = start + Math.min(available, this.maxSize);
    const normal = Math.min(start + this.avgSize, limit);
    const from = start + this.minSize;
    const gear = this.gear;
    const scan = this.scan;
    let cut = scan(buf, gear, 0, from, normal, this.maskS);
    if (cut < 0 && normal < limit) {
      cut = scan(buf, gear, gearHashAt(buf, gear, from, normal), normal, limit, this.maskL);
    }
    return (cut < 0 ? limit : cut) - start;
  }

  /**
   * {@link findCut} for a stream read piece by piece. Not `final` (more input may follow `end`): the
   * length of the chunk starting at `buf[start]` when the bytes after `end` cannot change it (a boundary
   * lies in `buf[start, end)`, or `end - start >= maxSize`), else -1: read more and ask again. `final`:
   * exactly findCut. `scanned` says the caller already asked about `buf[start, scanned)` (same `start`,
   * not final) and got -1, so the scan resumes there: each byte of a stream is hashed once, however
   * many reads it takes to decide its chunk.
   * @throws RangeError like findCut, or when `scanned` is outside `[start, end]`.
   */
  findBoundary(buf: Uint8Array, start: number, end: number, scanned = start, final = false): number {
    if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= buf.length)) {
      throw new RangeError(`findBoundary range [${start}, ${end}) is outside a buffer of ${buf.length} bytes`);
    }
    if (!(Number.isInteger(scanned) && scanned >= start && scanned <= end)) throw new RangeError(`findBoundary scanned ${scanned} is outside [${start}, ${end}]`);
    const available = end - start;
    const decided = final || available >= this.maxSize;
    if (available <= this.minSize) return decided ? available : -1;
    const limit = start + Math.min(available, this.maxSize);
    const from = start + this.minSize;
    const normal = Math.min(start + this.avgSize, limit);
    const gear = this.gear;
    const scan = this.scan;
    // The strict mask before avgSize, the loose one after it (see findCut); the hash state at `at`
    // depends only on the 32 bytes before it, so resuming costs no more than those.
    let at = Math.max(from, scanned);
    if (at < normal) {
      const cut = scan(buf, gear, gearHashAt(buf, gear, from, at), at, normal, this.maskS);
      if (cut >= 0) return cut - start;
      at = normal;
    }
    if (at < limit) {
      const cut = scan(buf, gear, gearHashAt(buf, gear, from, at), at, limit, this.maskL);
      if (cut >= 0) return cut - start;
    }
    return decided ? limit - start : -1;
  }
}

/**
 * Splits a whole in-memory buffer into chunks, yielding `[offset, length]` pairs in order that tile
 * `data` exactly (nothing for an empty buffer). For inputs too large to hold at once, call findCut over
 * a window of at least maxSize bytes instead.
 */
export function* chunkBuffer(cdc: FastCdc, data: Uint8Array): Generator<[offset: number, length: number]> {
  let offset = 0;
  while (offset < data.length) {
    const length = cdc.findCut(data, offset, data.length);
    yield [offset, length];
    offset += length;
  }
}
