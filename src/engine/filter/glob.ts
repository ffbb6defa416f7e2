import { UserError } from '../../core/errors.js';

/** A pattern that is not a valid glob (an unclosed `[`, an empty class, a trailing `\`). */
export class BadPatternError extends UserError {
  override readonly code = 'BAD_PATTERN';
}

/**
 * Compiles one path component of a pattern with the meaning Go's `filepath.Match` gives it (which is
 * what restic uses): `*` any run of characters, `?` one character, `[abc]`, `[a-z]`, `[^a-z]` one
 * character of (or not of) a class, and `\` quoting the next character, also inside a class. Unlike
 * shell globs, `*` and `?` match a leading dot, `!` does not negate a class, and `-` or `]` where a
 * character is expected are errors, not literals.
 * Throws {@link BadPatternError} for a malformed component.
 */
export function compileGlob(component: string): RegExp {
  const chars = [...component];
  let source = '';
  let i = 0;
  const bad = (why: string): never => {
    throw new BadPatternError(`invalid pattern component "${component}": ${why}`);
  };
  /** One class character, unquoting `\x`; `-` and `]` are not allowed unquoted (Go's rule). */
  const classChar = (): string => {
    let c = chars[i];
    if (c === undefined) return bad('unclosed [');
    if (c === '-' || c === ']') return bad(`"${c}" must be quoted with \\ in a class`);
    if (c === '\\') {
      i++;
      c = chars[i];
      if (c === undefined) return bad('\\ at the end');
    }
    i++;
    return c;
  };
  while (i < chars.length) {
    const c = chars[i]!;
    if (c === '*') {
      source += '.*';
      i++;
    } else if (c === '?') {
      source += '.';
      i++;
    } else if (c === '\\') {
      const next = chars[i + 1];
      if (next === undefined) bad('\\ at the end');
      source += quote(next!);
      i += 2;
    } else if (c === '[') {
      i++;
      let negate = false;
      if (chars[i] === '^') {
        negate = true;
        i++;
      }
      const ranges: string[] = [];
      while (ranges.length === 0 || chars[i] !== ']') {
        const lo = classChar();
        let hi = lo;
        if (chars[i] === '-') {
          i++;
          hi = classChar();
          if (hi.codePointAt(0)! < lo.codePointAt(0)!) bad(`range ${lo}-${hi} is backwards`);
        }
        ranges.push(`${quote(lo)}-${quote(hi)}`);
      }
      i++;
      source += `[${negate ? '^' : ''}${ranges.join('')}]`;
    } else {
      source += quote(c);
      i++;
    }
  }
  return new RegExp(`^${source}$`, 'su');
}

/** True when the component has glob syntax, else it is compared as plain text. */
export function hasGlobSyntax(component: string): boolean {
  return /[\\[\]*?]/.test(component);
}

function quote(c: string): string {
  return `\\u{${c.codePointAt(0)!.toString(16)}}`;
}
