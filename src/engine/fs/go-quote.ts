/**
 * Text forms of raw name bytes, as Go (and so restic) makes them. Go decodes a byte string rune by rune
 * and turns each byte that does not start a valid UTF-8 sequence into one replacement rune of width 1;
 * these functions follow that rule exactly, so they agree with restic byte for byte.
 */

const REPLACEMENT = 0xfffd;
/** Letters, marks, numbers, punctuation and symbols: what Go's `unicode.IsPrint` accepts besides the ASCII space. */
const GRAPHIC = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

/** One decoded rune: its code point, or `undefined` for a byte that is not valid UTF-8 (width 1). */
export interface Rune {
  readonly code: number | undefined;
  readonly width: number;
}

/** The rune starting at `at`, decoded as Go's `utf8.DecodeRune` does (no overlong forms, no surrogates, ≤ U+10FFFF). */
export function decodeRune(bytes: Uint8Array, at: number): Rune {
  const b0 = bytes[at]!;
  if (b0 < 0x80) return { code: b0, width: 1 };
  const cont = (i: number, lo = 0x80, hi = 0xbf): number | undefined => {
    const b = bytes[at + i];
    return b !== undefined && b >= lo && b <= hi ? b & 0x3f : undefined;
  };
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    const c1 = cont(1);
    if (c1 !== undefined) return { code: ((b0 & 0x1f) << 6) | c1, width: 2 };
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    const c1 = cont(1, b0 === 0xe0 ? 0xa0 : 0x80, b0 === 0xed ? 0x9f : 0xbf);
    const c2 = c1 === undefined ? undefined : cont(2);
    if (c1 !== undefined && c2 !== undefined) return { code: ((b0 & 0x0f) << 12) | (c1 << 6) | c2, width: 3 };
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    const c1 = cont(1, b0 === 0xf0 ? 0x90 : 0x80, b0 === 0xf4 ? 0x8f : 0xbf);
    const c2 = c1 === undefined ? undefined : cont(2);
    const c3 = c2 === undefined ? undefined : cont(3);
    if (c1 !== undefined && c2 !== undefined && c3 !== undefined) return { code: ((b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3, width: 4 };
  }
  return { code: undefined, width: 1 };
}

function* runes(bytes: Uint8Array): Generator<Rune & { at: number }> {
  for (let at = 0; at < bytes.length; ) {
    const rune = decodeRune(bytes, at);
    yield { ...rune, at };
    at += rune.width;
  }
}

/** True when every byte belongs to a valid UTF-8 sequence. */
export function isUtf8(bytes: Uint8Array): boolean {
  for (const rune of runes(bytes)) if (rune.code === undefined) return false;
  return true;
}

/** Go's `unicode.IsPrint`: graphic characters and the ASCII space; not controls, format characters or other spaces. */
export function isPrint(code: number): boolean {
  return code === 0x20 || GRAPHIC.test(String.fromCodePoint(code));
}

/**
 * The bytes as text with each invalid byte replaced by U+FFFD, as Go's `encoding/json` (and so restic's
 * `--json`) writes a string that is not UTF-8. Lossy: use it where an exact form travels beside it.
 */
export function lossyText(bytes: Uint8Array): string {
  if (isPrintableAscii(bytes)) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  let out = '';
  for (const rune of runes(bytes)) out += String.fromCodePoint(rune.code ?? REPLACEMENT);
  return out;
}

/**
 * The bytes as a Go double-quoted string literal, exactly as Go's `strconv.Quote` writes it: printable
 * characters as they are, `"` and `\` escaped, `\a \b \f \n \r \t \v`, other bytes below 0x20 and DEL as
 * `\xNN`, each byte that is not UTF-8 as `\xNN`, other non-printing characters as `\uNNNN` or `\UNNNNNNNN`.
 * Go's `strconv.Unquote` gives the bytes back.
 */
export function goQuote(bytes: Uint8Array): string {
  let out = '"';
  const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');
  for (const { code, at } of runes(bytes)) {
    if (code === undefined) out += `\\x${hex(bytes[at]!, 2)}`;
    else if (code === 0x22 || code === 0x5c) out += `\\${String.fromCharCode(code)}`;
    else if (isPrint(code)) out += String.fromCodePoint(code);
    else out += SHORT_ESCAPES[code] ?? (code < 0x20 || code === 0x7f ? `\\x${hex(code, 2)}` : code < 0x10000 ? `\\u${hex(code, 4)}` : `\\U${hex(code, 8)}`);
  }
  return `${out}"`;
}

const SHORT_ESCAPES: Record<number, string> = { 7: '\\a', 8: '\\b', 12: '\\f', 10: '\\n', 13: '\\r', 9: '\\t', 11: '\\v' };

/**
 * True when the bytes must be quoted to be shown unambiguously: they hold a byte that is not UTF-8, a
 * control or other non-printing character, or U+FFFD (which otherwise could not be told from a replaced
 * byte), as restic's `termstatus.Quote` decides, or they start with `"` (so a quoted form is never
 * mistaken for a real name that looks like one).
 */
export function needsQuoting(bytes: Uint8Array): boolean {
  if (bytes[0] === 0x22) return true;
  if (isPrintableAscii(bytes)) return false;
  for (const { code } of runes(bytes)) if (code === undefined || code === REPLACEMENT || !isPrint(code)) return true;
  return false;
}

/** True when every byte is printable ASCII (0x20–0x7e): the common case, which needs no rune decoding. */
function isPrintableAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b < 0x20 || b > 0x7e) return false;
  }
  return true;
}

const UNESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 0x5c, '"': 0x22 };

/**
 * The bytes a Go double-quoted string literal stands for (the inverse of {@link goQuote}, and of Go's
 * `strconv.Unquote` for such literals), or `undefined` when `text` is not one. Lets a user paste a quoted
 * path that a listing printed.
 */
export function goUnquote(text: string): Buffer | undefined {
  if (text.length < 2 || !text.startsWith('"') || !text.endsWith('"')) return undefined;
  const out: number[] = [];
  const body = text.slice(1, -1);
  for (let i = 0; i < body.length; ) {
    const ch = body[i]!;
    if (ch === '"' || ch === '\n') return undefined;
    if (ch !== '\\') {
      const cp = body.codePointAt(i)!;
      out.push(...Buffer.from(String.fromCodePoint(cp), 'utf8'));
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    const kind = body[i + 1];
    if (kind === undefined) return undefined;
    if (kind in UNESCAPES) {
      out.push(UNESCAPES[kind]!);
      i += 2;
      continue;
    }
    const digits = kind === 'x' ? 2 : kind === 'u' ? 4 : kind === 'U' ? 8 : /[0-7]/.test(kind) ? 3 : 0;
    const start = kind >= '0' && kind <= '7' ? i + 1 : i + 2;
    const raw = body.slice(start, start + digits);
    if (digits === 0 || raw.length !== digits || !(digits === 3 ? /^[0-7]{3}$/ : /^[0-9a-fA-F]+$/).test(raw)) return undefined;
    const value = parseInt(raw, digits === 3 ? 8 : 16);
    if (digits <= 3) {
      if (value > 0xff) return undefined;
      out.push(value);
    } else {
      if (value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) return undefined;
      out.push(...Buffer.from(String.fromCodePoint(value), 'utf8'));
    }
    i = start + digits;
  }
  return Buffer.from(out);
}
