import { lstat, readFile } from 'node:fs/promises';
import { UserError } from '../core/errors.js';
import { CACHEDIR_TAG, Excludes, type ExcludeRules } from '../engine/archiver/excludes.js';
import { quoteArg } from '../engine/filter/pattern-list.js';
import { bytePath } from '../engine/fs/byte-path.js';
import { parsePatternFile } from '../engine/filter/pattern-file.js';
import type { CliContext } from './context.js';

/** The options of `ferry backup` that leave things out; each has restic's meaning. */
export interface ExcludeOptions {
  readonly exclude?: string[];
  readonly iexclude?: string[];
  readonly excludeFile?: string[];
  readonly iexcludeFile?: string[];
  readonly excludeIfPresent?: string[];
  readonly excludeCaches?: boolean;
  readonly excludeLargerThan?: string;
  readonly oneFileSystem?: boolean;
}

/**
 * Collects the exclude rules of a backup: `--exclude` patterns first, then those of each `--exclude-file`
 * (environment variables expanded), likewise for the `i` forms. Throws a `UserError` naming an unreadable
 * exclude file or a size that does not parse; invalid patterns are reported when the rules are used.
 */
export async function excludeRules(ctx: CliContext, options: ExcludeOptions): Promise<ExcludeRules> {
  const fromFiles = async (files: readonly string[] | undefined, flag: string): Promise<string[]> => {
    const patterns: string[] = [];
    for (const file of files ?? []) {
      let data: Buffer;
      try {
        data = await readFile(file);
      } catch (err) {
        throw new UserError(`${flag} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); give a readable file of patterns, one a line`);
      }
      patterns.push(...parsePatternFile(data, ctx.env));
    }
    return patterns;
  };
  return {
    exclude: [...(options.exclude ?? []), ...(await fromFiles(options.excludeFile, '--exclude-file'))],
    iexclude: [...(options.iexclude ?? []), ...(await fromFiles(options.iexcludeFile, '--iexclude-file'))],
    ifPresent: [...(options.excludeIfPresent ?? []), ...(options.excludeCaches ? [CACHEDIR_TAG] : [])],
    ...(options.excludeLargerThan !== undefined ? { largerThan: parseSize(options.excludeLargerThan) } : {}),
    ...(options.oneFileSystem ? { oneFileSystem: true } : {}),
  };
}

const UNITS: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** A size as restic takes it: an integer with an optional unit b, k, m, g or t (powers of 1024). */
export function parseSize(text: string): number {
  const match = /^(\d+)([bkmgt]?)$/i.exec(text.trim());
  if (!match) throw new UserError(`--exclude-larger-than ${quoteArg(text)}: expected a size such as 500k, 20M or 2G`);
  return Number(match[1]) * UNITS[(match[2] || 'b').toLowerCase()]!;
}

/** The sources of a backup sorted out before anything is written. */
export interface SourceCheck {
  /** Sources that do not exist (left out; the backup exits 3 naming them). */
  readonly missing: string[];
  /** Sources the exclude rules leave out themselves. */
  readonly excluded: string[];
}

/**
 * Checks the sources against the file system and the rules. Throws a `UserError` when none exists, or
 * when the rules exclude every source that exists (a backup would save an empty snapshot).
 */
export async function checkSources(sources: readonly string[], rules: ExcludeRules): Promise<SourceCheck> {
  const excludes = await Excludes.create(rules, sources);
  const missing: string[] = [];
  const excluded: string[] = [];
  for (const source of sources) {
    let st;
    try {
      st = await lstat(source, { bigint: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new UserError(`cannot back up ${source}: ${(err as Error).message}`);
      missing.push(source);
      continue;
    }
    if (await excludes.excluded(bytePath(source), st)) excluded.push(source);
  }
  if (missing.length === sources.length) {
    throw new UserError(`cannot back up ${sources.join(', ')}: ${sources.length > 1 ? 'none of them exists' : 'it does not exist'}; check the paths`);
  }
  if (missing.length + excluded.length === sources.length) {
    throw new UserError(
      `nothing to back up: the exclude options leave out ${excluded.length > 1 ? 'every source' : 'the source'} (${excluded.join(', ')}); ` +
        'no snapshot was saved. Check the patterns: one without a leading / matches at any depth, as in restic',
    );
  }
  return { missing, excluded };
}
