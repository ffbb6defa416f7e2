/**
 * Argument checks shared by every Storage back end. Each back end calls them first, before any I/O, so
 * that a bad key or range fails the same way everywhere and can never reach outside the repository.
 */
import { PermanentError } from '../core/errors.js';
import type { ByteRange } from './storage.js';

/** The longest key any back end accepts, in characters (the limit of Azure and S3 object names). */
export const MAX_KEY_LENGTH = 1024;

/**
 * The longest segment, in characters (keys are ASCII, so also in bytes): the file name limit of the file
 * systems the filesystem back end runs on (ext4, XFS, btrfs, tmpfs, APFS: 255 bytes) and of hierarchical
 * object stores. A longer segment could be valid for one back end and unstorable on another, so no back
 * end accepts it.
 */
export const MAX_SEGMENT_LENGTH = 255;

const SEGMENT = /^[A-Za-z0-9._-]+$/;

/**
 * Segments starting with this name the temporary files of saves in progress (FsStorage writes
 * `.tmp-<random>` next to the target): such keys are refused everywhere, so that a valid key is storable
 * on every back end and a client can never name, read or replace another save's temporary file.
 */
export const RESERVED_SEGMENT_PREFIX = '.tmp-';
const PARTIAL_SEGMENT = /^[A-Za-z0-9._-]*$/;

/** Why `key` breaks the key rule of storage.ts, or undefined when it follows it. */
function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'it is empty';
  if (key.length > MAX_KEY_LENGTH) return `it is longer than ${MAX_KEY_LENGTH} characters`;
  for (const segment of key.split('/')) {
    if (segment === '') return 'it has an empty segment (a leading, trailing or doubled "/")';
    if (segment === '.' || segment === '..') return `it has a "${segment}" segment`;
    if (!SEGMENT.test(segment)) return 'it has a character outside [A-Za-z0-9._-]';
    if (segment.length > MAX_SEGMENT_LENGTH) return `it has a segment longer than ${MAX_SEGMENT_LENGTH} characters`;
    if (segment.startsWith(RESERVED_SEGMENT_PREFIX)) return `a segment starts with "${RESERVED_SEGMENT_PREFIX}", which names temporary files`;
  }
  return undefined;
}

/** The key as shown in messages: quoted with control characters escaped, long keys shortened. */
function quote(key: string): string {
  return JSON.stringify(key.length > 80 ? `${key.slice(0, 80)}…` : key);
}

/** True when `key` follows the key rule of storage.ts. Never throws. */
export function isValidKey(key: string): boolean {
  return keyProblem(key) === undefined;
}

/**
 * Throws a `PermanentError` naming `key` and saying what is wrong with it unless it is a `/`-separated
 * relative path of segments made of `[A-Za-z0-9._-]`, none of them empty, `.` or `..`, none longer than
 * {@link MAX_SEGMENT_LENGTH}, with at most {@link MAX_KEY_LENGTH} characters in all. Pure: does no I/O.
 */
export function assertValidKey(key: string): void {
  const problem = keyProblem(key);
  if (problem !== undefined) throw new PermanentError(`invalid object key ${quote(key)}: ${problem}`);
}

/**
 * Throws a `PermanentError` unless `prefix` is `''` or could start a valid key: every complete segment
 * (before the last `/`) is valid and the trailing partial segment uses only allowed characters.
 * `data/`, `data/a` and `snapshots/` pass; `/`, `../` and `a//` do not. Pure: does no I/O.
 */
export function assertValidPrefix(prefix: string): void {
  if (prefix === '') return;
  const slash = prefix.lastIndexOf('/');
  const folder = prefix.slice(0, Math.max(slash, 0));
  const partial = prefix.slice(slash + 1);
  let problem: string | undefined;
  if (prefix.length > MAX_KEY_LENGTH) problem = `it is longer than ${MAX_KEY_LENGTH} characters`;
  else if (slash === 0) problem = 'it starts with "/"';
  else if (slash > 0) problem = keyProblem(folder);
  if (problem === undefined && !PARTIAL_SEGMENT.test(partial)) {
    problem = 'it has a character outside [A-Za-z0-9._-]';
  }
  if (problem === undefined && partial.length > MAX_SEGMENT_LENGTH) {
    problem = `it has a segment longer than ${MAX_SEGMENT_LENGTH} characters`;
  }
  if (problem !== undefined) throw new PermanentError(`invalid key prefix ${quote(prefix)}: ${problem}`);
}

/**
 * Throws a `PermanentError` naming `key` unless `range` has a non-negative safe-integer offset and length.
 * Whether the range fits the object is for the back end to check (past the end is an `IntegrityError`).
 */
export function assertValidRange(key: string, range: ByteRange): void {
  const { offset, length } = range;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new PermanentError(
      `invalid range ${String(offset)}+${String(length)} for ${quote(key)}: ` +
        'offset and length must be non-negative integers',
    );
  }
}

/**
 * Throws a `RangeError` unless `target` can hold `range.length` bytes: the check `Storage.loadInto` makes
 * before any I/O (a caller's programming error, unlike a range past the object's end).
 */
export function assertTargetHolds(key: string, range: ByteRange, target: Uint8Array): void {
  if (target.byteLength < range.length) throw new RangeError(`loading ${quote(key)}: a target of ${target.byteLength} bytes cannot hold ${range.length}`);
}

/**
 * True when the objects under one key prefix (`''` or `/`-separated segments, no trailing `/`) could be
 * among those under the other: one equals the other or is a whole-segment prefix of it (`a` and `a/b`
 * overlap, `a` and `ab` do not). The empty prefix overlaps every prefix.
 */
export function keyPrefixesOverlap(a: string, b: string): boolean {
  const within = (inner: string, outer: string): boolean => outer === '' || inner === outer || inner.startsWith(`${outer}/`);
  return within(a, b) || within(b, a);
}
