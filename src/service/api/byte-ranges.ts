/**
 * The `Range` header of object reads (RFC 9110, section 14), as pure functions: what the client asked for,
 * then what that is against the object's real size. Nothing here allocates from a client's number; the
 * numbers only ever become a `ByteRange` after they were checked against a size the service read itself.
 */
import { UserError } from '../../core/errors.js';
import type { ByteRange } from '../../storage/storage.js';

/** What a `Range` header asks for, before the object's size is known. */
export type RangeRequest =
  /** No header, or one the service ignores as RFC 9110 allows: another unit, or several ranges (→ whole object, 200). */
  | { readonly kind: 'whole' }
  /** `bytes=FIRST-LAST`; LAST may lie past the end (it is clipped) and either may be beyond safe integers. */
  | { readonly kind: 'bounded'; readonly first: number; readonly last: number }
  /** `bytes=FIRST-`: from FIRST to the end. */
  | { readonly kind: 'from'; readonly first: number }
  /** `bytes=-N`: the last N bytes (the whole object when it is shorter). */
  | { readonly kind: 'suffix'; readonly length: number };

/** A `bytes` range that is not one (`bytes=abc`, `bytes=5-3`, `bytes=-`): 400. */
export class InvalidRangeError extends UserError {
  override readonly code = 'INVALID_RANGE';
}

const SPEC = /^(\d*)-(\d*)$/;

/**
 * Parses a `Range` header. Another unit than `bytes` and a list of several ranges are answered with the
 * whole object (RFC 9110 lets a server ignore Range); a malformed single `bytes` range, or one whose LAST
 * is before its FIRST, is an {@link InvalidRangeError}. Digits beyond the safe integers parse to numbers
 * that are merely too large (never exact), which is all resolving needs: such a FIRST is past any end,
 * such a LAST is clipped.
 */
export function parseRangeHeader(header: string | undefined): RangeRequest {
  if (header === undefined) return { kind: 'whole' };
  const equals = header.indexOf('=');
  if (equals < 0) throw new InvalidRangeError(`invalid range ${quote(header)}: expected bytes=FIRST-LAST`);
  if (header.slice(0, equals).trim().toLowerCase() !== 'bytes') return { kind: 'whole' };
  const specs = header.slice(equals + 1).split(',').map((spec) => spec.trim()).filter((spec) => spec !== '');
  if (specs.length > 1) return { kind: 'whole' };
  const match = SPEC.exec(specs[0] ?? '');
  if (match === null) throw new InvalidRangeError(`invalid range ${quote(header)}: expected bytes=FIRST-LAST, bytes=FIRST- or bytes=-SUFFIX`);
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') throw new InvalidRangeError(`invalid range ${quote(header)}: it names no byte`);
  if (first === '') return { kind: 'suffix', length: Number(last) };
  if (last === '') return { kind: 'from', first: Number(first) };
  const bounded = { kind: 'bounded', first: Number(first), last: Number(last) } as const;
  if (bounded.last < bounded.first) throw new InvalidRangeError(`invalid range ${quote(header)}: LAST is before FIRST`);
  return bounded;
}

/**
 * The bytes a ranged request selects of an object of `size` bytes (RFC 9110, 14.1.1), or `unsatisfiable`
 * (416): FIRST at or past the end, a suffix of 0 bytes, any range of an empty object. LAST past the end is
 * clipped to the last byte; a suffix longer than the object selects all of it.
 */
export function resolveRange(request: Exclude<RangeRequest, { kind: 'whole' }>, size: number): ByteRange | 'unsatisfiable' {
  if (request.kind === 'suffix') {
    if (request.length === 0 || size === 0) return 'unsatisfiable';
    const length = Math.min(request.length, size);
    return { offset: size - length, length };
  }
  if (request.first >= size) return 'unsatisfiable';
  const last = request.kind === 'bounded' ? Math.min(request.last, size - 1) : size - 1;
  return { offset: request.first, length: last - request.first + 1 };
}

/**
 * The range a `bounded` request names when it can be tried before the size is known (both ends safe
 * integers), else undefined. Whether it fits is the storage's to check (`Storage.load` fails a range past
 * the end without allocating it).
 */
export function exactRange(request: RangeRequest): ByteRange | undefined {
  if (request.kind !== 'bounded' || !Number.isSafeInteger(request.last + 1)) return undefined;
  return { offset: request.first, length: request.last - request.first + 1 };
}

/** The `Content-Range` of a 206 answer; the size is `*` when the service did not need to learn it. */
export function contentRange(range: ByteRange, size?: number): string {
  return `bytes ${range.offset}-${range.offset + range.length - 1}/${size ?? '*'}`;
}

function quote(header: string): string {
  return JSON.stringify(header.length > 60 ? `${header.slice(0, 60)}…` : header);
}
