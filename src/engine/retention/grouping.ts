import { UserError } from '../../core/errors.js';
import type { Snapshot } from '../snapshot/snapshot.js';

/** What retention looks at in a snapshot; the service judges run records that carry only these. */
export type RetentionFacts = Pick<Snapshot, 'time' | 'hostname' | 'paths' | 'tags'>;

/** A snapshot field `forget` can group by: each group is judged by the retention rules on its own. */
export type GroupField = 'host' | 'paths' | 'tags';

/** restic's default: one group per host and set of backed-up paths. */
export const DEFAULT_GROUP_BY: readonly GroupField[] = ['host', 'paths'];

const FIELDS: readonly GroupField[] = ['host', 'paths', 'tags'];
const SPELLINGS = new Map<string, GroupField>([
  ['host', 'host'], ['hostname', 'host'], ['paths', 'paths'], ['path', 'paths'], ['tags', 'tags'], ['tag', 'tags'],
]);

/** What the snapshots of one group have in common: only the grouped fields are present. */
export interface GroupKey {
  readonly hostname?: string;
  /** Sorted. */
  readonly paths?: readonly string[];
  /** Sorted. */
  readonly tags?: readonly string[];
}

/**
 * Parses `--group-by`: a comma-separated list of `host`, `paths`, `tags` (restic's spelling; `hostname`
 * and `path`/`tag` are accepted too), or the empty string for one group holding every snapshot.
 * Returns the fields in canonical order without duplicates. Throws `UserError` on an unknown field.
 */
export function parseGroupBy(text: string): GroupField[] {
  const fields = new Set<GroupField>();
  for (const raw of text.split(',')) {
    const word = raw.trim();
    if (word === '') continue;
    const field = SPELLINGS.get(word);
    if (!field) throw new UserError(`invalid --group-by "${text}": use a comma-separated list of host, paths and tags, or '' for no grouping`);
    fields.add(field);
  }
  return FIELDS.filter((f) => fields.has(f));
}

/** The key of the group `snapshot` belongs to under `groupBy`. Pure. */
export function groupKeyOf(snapshot: RetentionFacts, groupBy: readonly GroupField[]): GroupKey {
  return {
    ...(groupBy.includes('host') ? { hostname: snapshot.hostname } : {}),
    ...(groupBy.includes('paths') ? { paths: [...snapshot.paths].sort() } : {}),
    ...(groupBy.includes('tags') ? { tags: [...snapshot.tags].sort() } : {}),
  };
}

/**
 * A one-line label for a group, for people and for `--json`'s `key`: `host web1, paths /etc,/srv`;
 * the empty string when nothing is grouped. Groups are told apart by {@link groupIdentity}, not by this.
 */
export function groupLabel(key: GroupKey): string {
  const parts: string[] = [];
  if (key.hostname !== undefined) parts.push(`host ${key.hostname}`);
  if (key.paths) parts.push(`paths ${key.paths.join(',')}`);
  if (key.tags) parts.push(`tags ${key.tags.join(',')}`);
  return parts.join(', ');
}

/** An exact identity for a group key (a label could collide when a path contains a comma). */
export function groupIdentity(key: GroupKey): string {
  return JSON.stringify([key.hostname ?? null, key.paths ?? null, key.tags ?? null]);
}

/**
 * Which snapshots `forget` considers at all: with `hosts`, only those taken on one of them; with `tags`,
 * only those matching one of the tag lists, where a list `a,b` matches a snapshot carrying both `a` and
 * `b` (restic's `--tag`). Empty or absent lists do not restrict. Snapshots not selected are never removed.
 */
export interface SnapshotFilter {
  readonly hosts?: readonly string[];
  readonly tags?: readonly string[];
}

/** True when `snapshot` passes `filter`. Pure. */
export function matchesFilter(snapshot: RetentionFacts, filter: SnapshotFilter): boolean {
  if (filter.hosts && filter.hosts.length > 0 && !filter.hosts.includes(snapshot.hostname)) return false;
  if (filter.tags && filter.tags.length > 0 && !filter.tags.some((list) => hasTagList(snapshot, list))) return false;
  return true;
}

/**
 * True when `snapshot` carries every tag of the comma-separated `list`; the empty list (`--tag ''`)
 * matches exactly the snapshots without tags, as in restic.
 */
export function hasTagList(snapshot: RetentionFacts, list: string): boolean {
  const wanted = list.split(',').map((t) => t.trim()).filter((t) => t !== '');
  if (wanted.length === 0) return snapshot.tags.length === 0;
  return wanted.every((t) => snapshot.tags.includes(t));
}
