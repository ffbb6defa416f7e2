/**
 * File system paths as raw bytes. File names may hold any byte but `/` and NUL, including bytes that
 * are not UTF-8, so the engine keeps paths as Buffers and hands them to node:fs as they are.
 */
import { goQuote, lossyText, needsQuoting } from './go-quote.js';

const SLASH = Buffer.from('/');

export function bytePath(path: string): Buffer {
  return Buffer.from(path, 'utf8');
}

/** `dir/name`, without doubling the slash when `dir` is `/`. */
export function joinBytePath(dir: Buffer, name: Buffer): Buffer {
  return dir.length > 0 && dir[dir.length - 1] === 0x2f ? Buffer.concat([dir, name]) : Buffer.concat([dir, SLASH, name]);
}

/**
 * How a path is shown to a person (listings, warnings, errors): as it is when it is printable UTF-8;
 * otherwise (a byte that is not UTF-8, a control or other non-printing character, U+FFFD, or a leading
 * `"`) as a Go double-quoted string, as restic quotes such names: `"/srv/caf\xe9"`. The quotes say the
 * escapes are escapes, so no real name prints the same as another.
 */
export function displayPath(path: Uint8Array): string {
  return needsQuoting(path) ? goQuote(path) : Buffer.from(path).toString('utf8');
}

/**
 * The text patterns are matched against: each byte that is not UTF-8 becomes U+FFFD, one rune, as in
 * restic (whose patterns see Go strings, where `?` matches such a byte).
 */
export function matchText(path: Uint8Array): string {
  return lossyText(path);
}
