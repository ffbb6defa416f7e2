import { UserError } from '../../core/errors.js';
import { PatternList, quoteArg } from '../filter/pattern-list.js';

/** `restore --include/--iinclude` or `--exclude/--iexclude` patterns (restic's meaning). */
export interface RestorePatterns {
  readonly include?: readonly string[];
  readonly iinclude?: readonly string[];
  readonly exclude?: readonly string[];
  readonly iexclude?: readonly string[];
}

/** What the selection says about one snapshot entry. */
export interface Selected {
  /** Restore the entry itself. */
  readonly selected: boolean;
  /** For a folder: walk it, something below may be selected (its parents are then created too). */
  readonly walk: boolean;
}

/**
 * Which snapshot entries a restore writes, decided as restic's restore does. With exclude patterns,
 * everything but the matched entries (and what is below a matched folder). With include patterns, the
 * matched entries, everything below a matched folder, and the folders on the way to them. Include and
 * exclude patterns cannot be mixed. Paths are absolute snapshot paths (`/home/ann/x`).
 */
export class RestoreSelection {
  private readonly include: PatternList;
  private readonly iinclude: PatternList;
  private readonly exclude: PatternList;
  private readonly iexclude: PatternList;

  /** Throws `UserError` when include and exclude patterns are mixed, `BadPatternError` for an invalid one. */
  constructor(patterns: RestorePatterns = {}) {
    this.include = new PatternList(patterns.include ?? []);
    this.iinclude = new PatternList(patterns.iinclude ?? [], true);
    this.exclude = new PatternList(patterns.exclude ?? []);
    this.iexclude = new PatternList(patterns.iexclude ?? [], true);
    if (this.excluding && this.including) {
      throw new UserError('restore takes either --include/--iinclude or --exclude/--iexclude patterns, not both; use one kind (a ! pattern takes back part of a match)');
    }
  }

  /** True when everything is restored. */
  get all(): boolean {
    return !this.excluding && !this.including;
  }

  private get excluding(): boolean {
    return !this.exclude.empty || !this.iexclude.empty;
  }

  private get including(): boolean {
    return !this.include.empty || !this.iinclude.empty;
  }

  select(path: string, isDir: boolean): Selected {
    if (this.excluding) {
      const selected = !this.exclude.match(path).matched && !this.iexclude.match(path).matched;
      return { selected, walk: selected && isDir };
    }
    if (this.including) {
      const a = this.include.match(path, true);
      const b = this.iinclude.match(path, true);
      return { selected: a.matched || b.matched, walk: (a.childMayMatch || b.childMayMatch) && isDir };
    }
    return { selected: true, walk: isDir };
  }

  /** The patterns that selected (or excluded) nothing so far, as `--include 'X'`. */
  unmatched(): string[] {
    const named = (flag: string, list: PatternList): string[] => list.unused().map((p) => `${flag} ${quoteArg(p)}`);
    return [...named('--include', this.include), ...named('--iinclude', this.iinclude), ...named('--exclude', this.exclude), ...named('--iexclude', this.iexclude)];
  }
}
