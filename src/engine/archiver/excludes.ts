import { lstat, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UserError } from '../../core/errors.js';
import { bytePath, matchText } from '../fs/byte-path.js';
import { PatternList, quoteArg } from '../filter/pattern-list.js';

/** What `ferry backup` leaves out, with restic's meaning for each option. */
export interface ExcludeRules {
  /** `--exclude` (and `--exclude-file`) patterns, in order; `!` re-includes. */
  readonly exclude?: readonly string[];
  /** `--iexclude` (and `--iexclude-file`) patterns, compared in lower case; a list of its own. */
  readonly iexclude?: readonly string[];
  /** `--exclude-if-present FILE[:HEADER]`: a folder holding FILE (starting with HEADER) keeps only FILE. */
  readonly ifPresent?: readonly string[];
  /** `--exclude-larger-than`: files (anything but folders) larger than this many bytes are left out. */
  readonly largerThan?: number;
  /** `--one-file-system`: entries on another file system than their source are left out (mount points stay, empty). */
  readonly oneFileSystem?: boolean;
}

/** The parts of a stat result the rules look at. */
export interface EntryStat {
  isDirectory(): boolean;
  readonly size: number | bigint;
  readonly dev: number | bigint;
}

/** The tag file of `--exclude-caches` (https://bford.info/cachedir/). */
export const CACHEDIR_TAG = 'CACHEDIR.TAG:Signature: 8a477f597d28d172789f06886806bc55';

interface TagFile {
  readonly name: string;
  readonly header: Buffer;
}

/**
 * Decides which entries a backup leaves out. An entry is left out when any rule says so; a left-out
 * folder is not walked. Paths are absolute; patterns see them as text (non-UTF-8 bytes escaped).
 * Create with {@link Excludes.create}, which checks the patterns and notes the sources' file systems.
 * Safe for concurrent async use.
 */
export class Excludes {
  private readonly exclude: PatternList;
  private readonly iexclude: PatternList;
  private readonly tags: TagFile[];
  /** Tag folder results by folder and tag, so each folder is looked at once per tag. */
  private readonly tagged = new Map<string, Promise<boolean>>();

  private constructor(
    private readonly rules: ExcludeRules,
    private readonly devices: ReadonlyMap<string, bigint>,
  ) {
    this.exclude = new PatternList(rules.exclude ?? []);
    this.iexclude = new PatternList(rules.iexclude ?? [], true);
    this.tags = (rules.ifPresent ?? []).map(parseTagFile);
  }

  /**
   * Rules for a backup of `sources` (absolute; the ones that exist are sampled for `oneFileSystem`).
   * Throws `BadPatternError` for an invalid pattern and `UserError` for an empty tag file name.
   */
  static async create(rules: ExcludeRules, sources: readonly string[]): Promise<Excludes> {
    const devices = new Map<string, bigint>();
    if (rules.oneFileSystem) {
      for (const source of sources) {
        const st = await lstat(source, { bigint: true }).catch(() => undefined);
        if (st) devices.set(source, st.dev);
      }
    }
    return new Excludes(rules, devices);
  }

  /** No rule at all: every entry is kept. */
  static none(): Excludes {
    return new Excludes({}, new Map());
  }

  get empty(): boolean {
    return this.exclude.empty && this.iexclude.empty && this.tags.length === 0 && this.rules.largerThan === undefined && !this.rules.oneFileSystem;
  }

  /** True when the entry at `path` (with its lstat result) is left out. */
  async excluded(path: Buffer, st: EntryStat): Promise<boolean> {
    if (this.empty) return false;
    const text = matchText(path);
    if (!this.exclude.empty && this.exclude.match(text).matched) return true;
    if (!this.iexclude.empty && this.iexclude.match(text).matched) return true;
    const largerThan = this.rules.largerThan;
    if (largerThan !== undefined && !st.isDirectory() && BigInt(st.size) > BigInt(largerThan)) return true;
    if (this.rules.oneFileSystem && (await this.otherFileSystem(path, st))) return true;
    for (const tag of this.tags) if (await this.inTaggedFolder(path, tag)) return true;
    return false;
  }

  /** The patterns that left nothing out (or re-included nothing), as `--exclude 'X'` / `--iexclude 'X'`. */
  unmatched(): string[] {
    return [...this.exclude.unused().map((p) => `--exclude ${quoteArg(p)}`), ...this.iexclude.unused().map((p) => `--iexclude ${quoteArg(p)}`)];
  }

  private async otherFileSystem(path: Buffer, st: EntryStat): Promise<boolean> {
    const text = path.toString('utf8');
    if (this.allowedDevice(text) === BigInt(st.dev)) return false;
    if (!st.isDirectory()) return true;
    // A mount point is kept (as an empty folder) when its parent is on the source's file system.
    const parent = dirname(text);
    if (parent === text) return true;
    const parentSt = await lstat(parent, { bigint: true }).catch(() => undefined);
    return parentSt === undefined || this.allowedDevice(parent) !== parentSt.dev;
  }

  /** The file system of the source `path` is in (the nearest source at or above it). */
  private allowedDevice(path: string): bigint | undefined {
    for (let dir = path; ; dir = dirname(dir)) {
      const dev = this.devices.get(dir);
      if (dev !== undefined) return dev;
      if (dirname(dir) === dir) return undefined;
    }
  }

  private inTaggedFolder(path: Buffer, tag: TagFile): Promise<boolean> {
    const slash = path.lastIndexOf(0x2f);
    const name = path.subarray(slash + 1);
    if (name.equals(bytePath(tag.name))) return Promise.resolve(false);
    const dir = path.subarray(0, slash + 1);
    const key = `${dir.toString('latin1')}\0${tag.name}\0${tag.header.toString('latin1')}`;
    let result = this.tagged.get(key);
    if (!result) {
      result = hasTagFile(Buffer.concat([dir, bytePath(tag.name)]), tag.header);
      this.tagged.set(key, result);
    }
    return result;
  }
}

function parseTagFile(spec: string): TagFile {
  const colon = spec.indexOf(':');
  const name = colon < 0 ? spec : spec.slice(0, colon);
  if (name === '' || name.includes('/')) {
    throw new UserError(`--exclude-if-present ${quoteArg(spec)}: give a file name, optionally followed by :HEADER (e.g. CACHEDIR.TAG:Signature: 8a477f597d28d172789f06886806bc55)`);
  }
  return { name, header: Buffer.from(colon < 0 ? '' : spec.slice(colon + 1), 'utf8') };
}

/** True when the tag file exists and, when a header is asked for, starts with it. */
async function hasTagFile(path: Buffer, header: Buffer): Promise<boolean> {
  try {
    await lstat(path);
  } catch {
    return false;
  }
  if (header.length === 0) return true;
  try {
    const file = await open(path, 'r');
    try {
      const buf = Buffer.alloc(header.length);
      const { bytesRead } = await file.read(buf, 0, header.length, 0);
      return bytesRead === header.length && buf.equals(header);
    } finally {
      await file.close();
    }
  } catch {
    return false;
  }
}
