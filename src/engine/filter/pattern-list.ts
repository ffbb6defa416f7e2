import { BadPatternError } from './glob.js';
import { childMayMatch, matchPattern, parsePattern, splitPath, type Pattern } from './pattern.js';

/** What a {@link PatternList} says about one path. */
export interface ListMatch {
  /** The last pattern that matched decides: a plain one selects the path, a `!` one takes it back. */
  readonly matched: boolean;
  /** Whether entries below the path could still be selected (for walking only where it matters). */
  readonly childMayMatch: boolean;
}

/**
 * An ordered list of patterns as restic evaluates `--exclude`, `--include` and their `i` forms: each
 * plain pattern that matches selects the path, each `!` pattern that matches takes it back, so order
 * matters and a `!` pattern only re-includes what a pattern before it selected. Empty patterns are
 * ignored. With `caseInsensitive`, patterns and paths are compared in lower case.
 *
 * The list remembers which patterns ever took effect, so the ones that matched nothing can be reported.
 * Not safe for concurrent mutation from threads; concurrent async callers on one thread are fine.
 */
export class PatternList {
  private readonly patterns: Pattern[];
  private readonly used: boolean[];

  /** Throws `BadPatternError` for a pattern that is not a valid glob. */
  constructor(
    patterns: readonly string[],
    readonly caseInsensitive = false,
  ) {
    this.patterns = patterns
      .filter((p) => p !== '')
      .map((p) => {
        try {
          return parsePattern(p, caseInsensitive);
        } catch (err) {
          if (!(err instanceof BadPatternError)) throw err;
          throw new BadPatternError(`the pattern ${JSON.stringify(p)} is not valid: ${err.message}; quote a literal [, ], *, ? or \\ with a backslash`, { cause: err });
        }
      });
    this.used = this.patterns.map(() => false);
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /** Evaluates the list for an absolute path (as text, `/`-separated). */
  match(path: string, withChildren = false): ListMatch {
    if (this.patterns.length === 0) return { matched: false, childMayMatch: false };
    const components = splitPath(this.caseInsensitive ? path.toLowerCase() : path);
    let matched = false;
    let children = false;
    for (const [i, pattern] of this.patterns.entries()) {
      const hit = matchPattern(pattern, components);
      if (pattern.negated) {
        if (hit && (matched || children)) this.used[i] = true;
        matched = matched && !hit;
        children = children && !hit;
      } else {
        if (hit) this.used[i] = true;
        matched = matched || hit;
        children = children || !withChildren || childMayMatch(pattern, components);
      }
    }
    return { matched, childMayMatch: children };
  }

  /** The patterns (as written) that have not selected or re-included anything so far. */
  unused(): string[] {
    return this.patterns.filter((_, i) => !this.used[i]).map((p) => p.original);
  }
}

/** A pattern as it would be typed in a shell, for messages. */
export function quoteArg(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
