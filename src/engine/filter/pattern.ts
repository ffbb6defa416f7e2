import { compileGlob, hasGlobSyntax } from './glob.js';

/** One component of a parsed pattern: the root of an absolute pattern, `**`, plain text or a glob. */
type Part = { readonly kind: 'root' } | { readonly kind: 'any' } | { readonly kind: 'text'; readonly text: string } | { readonly kind: 'glob'; readonly re: RegExp };

/**
 * A pattern with restic's meaning (its filter package): the text is cleaned like a path (a trailing `/`,
 * `//` and `.` disappear), split into components, and matched against a contiguous run of the path's
 * components. A leading `/` anchors it at the root; without one it matches at any depth. `**` stands for
 * any number of components (none included). A leading `!` marks a re-include (see {@link PatternList}).
 */
export interface Pattern {
  /** As the user wrote it, for messages. */
  readonly original: string;
  readonly negated: boolean;
  readonly parts: readonly Part[];
}

const ROOT: Part = { kind: 'root' };
const ANY: Part = { kind: 'any' };
const STAR: Part = { kind: 'glob', re: /^.*$/su };

/**
 * Parses a non-empty pattern; with `lowerCase` it is lower-cased first (the `i` options).
 * Throws `BadPatternError` when a component is not a valid glob.
 */
export function parsePattern(original: string, lowerCase = false): Pattern {
  let text = lowerCase ? original.toLowerCase() : original;
  const negated = text.startsWith('!');
  if (negated) text = text.slice(1);
  const parts = splitPath(cleanPath(text)).map((component, i): Part => {
    if (i === 0 && component === '/') return ROOT;
    // `**` is the wildcard; so is the empty component `/` alone cleans to, as in restic.
    if (component === '**' || component === '') return ANY;
    return hasGlobSyntax(component) ? { kind: 'glob', re: compileGlob(component) } : { kind: 'text', text: component };
  });
  return { original, negated, parts };
}

/** Splits a path into components; an absolute path's first component is `/`. */
export function splitPath(path: string): string[] {
  const parts = path.split('/');
  if (parts[0] === '') parts[0] = '/';
  return parts;
}

/** True when the pattern matches the path (split by {@link splitPath}). */
export function matchPattern(pattern: Pattern, components: readonly string[]): boolean {
  return matchParts(pattern.parts, components);
}

/**
 * True when something below the path could match: always for a pattern without a leading `/`; for an
 * anchored one, when the path is a prefix the pattern could continue from.
 */
export function childMayMatch(pattern: Pattern, components: readonly string[]): boolean {
  const parts = pattern.parts;
  if (parts[0]?.kind !== 'root') return true;
  const wildcard = parts.findIndex((p) => p.kind === 'any');
  const path = wildcard >= 0 && components.length >= wildcard ? components.slice(0, wildcard) : components;
  return matchParts(parts.slice(0, Math.min(path.length, parts.length)), path);
}

function matchParts(parts: readonly Part[], path: readonly string[]): boolean {
  const wildcard = parts.findIndex((p) => p.kind === 'any');
  if (wildcard >= 0) {
    // Try `**` as zero, one, two… single-component wildcards, as far as the path is long.
    const before = parts.slice(0, wildcard);
    const after = parts.slice(wildcard + 1);
    for (let stars = 0; stars <= path.length - parts.length + 1; stars++) {
      if (matchParts([...before, ...new Array<Part>(stars).fill(STAR), ...after], path)) return true;
    }
    return false;
  }
  if (parts.length === 0) return path.length === 0;
  if (parts.length > path.length) return false;
  const anchored = parts[0]!.kind === 'root';
  const maxOffset = anchored ? 0 : path.length - parts.length;
  // A pattern without a leading `/` never matches the root marker of an absolute path.
  const minOffset = !anchored && path[0] === '/' ? 1 : 0;
  for (let offset = maxOffset; offset >= minOffset; offset--) {
    if (parts.every((part, i) => matchPart(part, path[offset + i]!))) return true;
  }
  return false;
}

function matchPart(part: Part, component: string): boolean {
  switch (part.kind) {
    case 'root':
      return component === '/';
    case 'text':
      return component === part.text;
    case 'glob':
      return part.re.test(component);
    case 'any':
      return true;
  }
}

/**
 * Go's `filepath.Clean` on a slash-separated path: one `/` between components, no `.` components, `..`
 * removing the component before it (and dropped right after the root), no trailing `/`; `""` becomes `.`.
 */
export function cleanPath(path: string): string {
  const rooted = path.startsWith('/');
  const out: string[] = [];
  for (const component of path.split('/')) {
    if (component === '' || component === '.') continue;
    if (component === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(component);
  }
  const joined = out.join('/');
  if (rooted) return `/${joined}`;
  return joined === '' ? '.' : joined;
}
