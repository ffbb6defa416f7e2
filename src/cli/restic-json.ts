import { shortId, type Id } from '../core/ids.js';
import type { Decision, GroupDecisions, KeepRule } from '../engine/retention/policy.js';
import type { BackupSummary, Snapshot } from '../engine/snapshot/snapshot.js';

// The --json shapes restic users' scripts read (restic 0.14's field names, and the snapshot `summary` and
// `program_version` restic added in 0.17). Where restic leaves a field out (Go's omitempty: an empty list,
// a zero number, an empty string, no parent), so does Ferry, so `has("tags")` means the same in both.
// Fields restic does not have are Ferry's own and are listed in the README ("Differences from restic kept
// on purpose"); the end-to-end test test/e2e/restic-json.test.ts compares both tools on one tree.

type Json = Record<string, unknown>;

/** A snapshot as `snapshots --json` prints it (and as `forget --json` lists it), with its `id` and `short_id`. */
export function snapshotJson(id: Id, s: Snapshot): Json {
  return { ...snapshotFields(s), id, short_id: shortId(id) };
}

/** restic's snapshot fields in restic's order; Ferry's `skipped` (entries the backup could not read) last. */
function snapshotFields(s: Snapshot): Json {
  return omitEmpty({
    time: s.time,
    parent: s.parent,
    tree: s.tree,
    paths: s.paths,
    hostname: s.hostname,
    username: s.username,
    uid: s.uid,
    gid: s.gid,
    excludes: s.excludes,
    tags: s.tags,
    program_version: s.programVersion,
    summary: s.summary ? snapshotSummaryJson(s.summary) : undefined,
    skipped: s.skipped,
  });
}

/** The snapshot's `summary` in restic 0.17's shape, plus Ferry's `bytes_read` and `files_skipped`. */
function snapshotSummaryJson(s: BackupSummary): Json {
  return {
    backup_start: s.backupStart,
    backup_end: s.backupEnd,
    files_new: s.filesNew,
    files_changed: s.filesChanged,
    files_unmodified: s.filesUnmodified,
    dirs_new: s.dirsNew,
    dirs_changed: s.dirsChanged,
    dirs_unmodified: s.dirsUnmodified,
    data_blobs: s.dataBlobs,
    tree_blobs: s.treeBlobs,
    data_added: s.dataAdded,
    data_added_packed: s.dataAddedPacked,
    total_files_processed: s.totalFilesProcessed,
    total_bytes_processed: s.totalBytesProcessed,
    bytes_read: s.bytesRead,
    files_skipped: s.filesSkipped,
  };
}

/**
 * The last line of `backup --json`: restic's summary fields, with the full 64-digit `snapshot_id` (restic
 * 0.14 printed 8 digits, later versions the full id), and Ferry's `files_skipped`, `data_added_packed`,
 * `bytes_read`, `backup_start` and `backup_end`.
 */
export function backupSummaryJson(id: Id, s: BackupSummary): Json {
  return {
    message_type: 'summary',
    files_new: s.filesNew,
    files_changed: s.filesChanged,
    files_unmodified: s.filesUnmodified,
    files_skipped: s.filesSkipped,
    dirs_new: s.dirsNew,
    dirs_changed: s.dirsChanged,
    dirs_unmodified: s.dirsUnmodified,
    data_blobs: s.dataBlobs,
    tree_blobs: s.treeBlobs,
    data_added: s.dataAdded,
    data_added_packed: s.dataAddedPacked,
    total_files_processed: s.totalFilesProcessed,
    total_bytes_processed: s.totalBytesProcessed,
    bytes_read: s.bytesRead,
    total_duration: (Date.parse(s.backupEnd) - Date.parse(s.backupStart)) / 1000,
    backup_start: s.backupStart,
    backup_end: s.backupEnd,
    snapshot_id: id,
  };
}

/**
 * `forget --json` for a policy: restic's array with one element per group. `tags`, `host` and `paths` are
 * the grouped fields (`null`, `""` and `null` when not grouped by them, as restic prints them); `keep` and
 * `remove` list the snapshots newest first (`null` when empty); `reasons` has one entry per kept snapshot,
 * in the order of `keep`: the snapshot without its id, restic's `matches` and the `counters` left.
 */
export function forgetGroupsJson(groups: readonly GroupDecisions[]): Json[] {
  return groups.map((g) => {
    const keep = [...g.keep].reverse();
    const remove = [...g.remove].reverse();
    return {
      tags: g.key.tags && g.key.tags.length > 0 ? g.key.tags : null,
      host: g.key.hostname ?? '',
      paths: g.key.paths ?? null,
      keep: keep.length > 0 ? keep.map((d) => snapshotJson(d.id, d.snapshot)) : null,
      remove: remove.length > 0 ? remove.map((d) => snapshotJson(d.id, d.snapshot)) : null,
      reasons: keep.length > 0 ? keep.map(reasonJson) : null,
    };
  });
}

function reasonJson(d: Decision): Json {
  return { snapshot: snapshotFields(d.snapshot), matches: d.rules.map(matchText), counters: d.counters };
}

/** restic's words for a rule that keeps a snapshot. */
function matchText(rule: KeepRule): string {
  switch (rule.kind) {
    case 'tag':
      return `has tags [${rule.tags.join(', ')}]`;
    case 'within':
      return `within ${rule.duration}`;
    default:
      return `${rule.kind} snapshot`;
  }
}

/** Drops what Go's omitempty drops: undefined, empty strings and lists, zero numbers. */
function omitEmpty(fields: Json): Json {
  return Object.fromEntries(
    Object.entries(fields).filter(([, v]) => v !== undefined && v !== '' && v !== 0 && !(Array.isArray(v) && v.length === 0)),
  );
}
