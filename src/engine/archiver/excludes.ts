import picomatch from 'picomatch';

/**
 * Exclude patterns as `ferry backup --exclude` takes them: a pattern without `/` matches a name at any
 * depth (`*.tmp`, `node_modules`); a pattern with `/` matches the whole absolute path (`/home/*\/cache`).
 * Matching a directory excludes everything below it.
 */
export class Excludes {
  private readonly matchers: ((path: string) => boolean)[];

  constructor(readonly patterns: readonly string[]) {
    this.matchers = patterns.map((pattern) => {
      const options = { dot: true, basename: !pattern.includes('/') };
      return picomatch(pattern, options);
    });
  }

  get empty(): boolean {
    return this.matchers.length === 0;
  }

  /** True when the absolute path (as text) is excluded. */
  matches(path: string): boolean {
    return this.matchers.some((match) => match(path));
  }
}
