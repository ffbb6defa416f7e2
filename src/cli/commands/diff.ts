import { shortId } from '../../core/ids.js';
import { displayPath } from '../../engine/fs/byte-path.js';
import { diffTrees, type DiffCounts, type TreeChange } from '../../engine/inspect/snapshot-diff.js';
import { findSubtree } from '../../engine/inspect/tree-source.js';
import { openLockedRepository, type CliContext, type RepoOptions } from '../context.js';
import { findSnapshotExplained, loadIndexWarning } from '../damaged-objects.js';
import { formatBytes } from '../format.js';
import { bytesFields, jsonLine } from '../node-json.js';
import { readProblemReporter } from '../read-problems.js';

export interface DiffOptions extends RepoOptions {
  /** `--metadata`: also list entries whose metadata alone changed (`U`). */
  readonly metadata?: boolean;
}

/**
 * `ferry diff A B`: restic's `diff` — the changed entries, then statistics (`--json`: restic's `change`
 * lines and one `statistics` line). A folder whose tree cannot be read is named on stderr and left out;
 * the exit code is then 3.
 */
export async function diffCommand(ctx: CliContext, first: string, second: string, options: DiffOptions): Promise<number> {
  const { repo, target } = await openLockedRepository(ctx, options);
  await loadIndexWarning(ctx, repo, target);
  const [ref1, path1] = splitRef(first);
  const [ref2, path2] = splitRef(second);
  const a = await findSnapshotExplained(ctx, repo, target, ref1);
  const b = await findSnapshotExplained(ctx, repo, target, ref2);
  const tree1 = path1 === undefined ? a.snapshot.tree : await findSubtree(repo, a.snapshot.tree, path1);
  const tree2 = path2 === undefined ? b.snapshot.tree : await findSubtree(repo, b.snapshot.tree, path2);
  if (!options.json) ctx.stdout.write(`comparing snapshot ${shortId(a.id)} to ${shortId(b.id)}:\n\n`);
  const problems = readProblemReporter(ctx, 'compared');
  const summary = await diffTrees(repo, tree1, tree2, {
    metadata: options.metadata === true,
    onChange: (change) => ctx.stdout.write(options.json ? changeJson(change) : `${change.modifier.padEnd(5)}${shownPath(change)}\n`),
    onUnreadableTree: problems.unreadableTree,
    onUnindexedBlob: problems.unindexedBlob,
    signal: ctx.signal,
  });
  if (options.json) {
    const counts = (c: DiffCounts): Record<string, number> => ({ files: c.files, dirs: c.dirs, others: c.others, data_blobs: c.dataBlobs, tree_blobs: c.treeBlobs, bytes: c.bytes });
    const statistics = {
      message_type: 'statistics',
      source_snapshot: first,
      target_snapshot: second,
      changed_files: summary.changedFiles,
      added: counts(summary.added),
      removed: counts(summary.removed),
    };
    ctx.stdout.write(JSON.stringify(statistics) + '\n');
  } else {
    const { added, removed } = summary;
    const n = (value: number): string => String(value).padStart(5);
    ctx.stdout.write(
      `\nFiles:       ${n(added.files)} new, ${n(removed.files)} removed, ${n(summary.changedFiles)} changed\n` +
        `Dirs:        ${n(added.dirs)} new, ${n(removed.dirs)} removed\n` +
        `Others:      ${n(added.others)} new, ${n(removed.others)} removed\n` +
        `Data Blobs:  ${n(added.dataBlobs)} new, ${n(removed.dataBlobs)} removed\n` +
        `Tree Blobs:  ${n(added.treeBlobs)} new, ${n(removed.treeBlobs)} removed\n` +
        `  Added:   ${formatBytes(added.bytes)}\n` +
        `  Removed: ${formatBytes(removed.bytes)}\n`,
    );
  }
  return problems.count() > 0 ? 3 : 0;
}

/** `ID:path` → [`ID`, `path`]; snapshot ids and `latest` hold no colon. */
function splitRef(ref: string): [string, string | undefined] {
  const at = ref.indexOf(':');
  return at < 0 ? [ref, undefined] : [ref.slice(0, at), ref.slice(at + 1)];
}

function shownPath(change: TreeChange): string {
  return `${displayPath(change.path)}${change.isDir ? '/' : ''}`;
}

/** restic's `change` line; a path that is not UTF-8 also travels exactly, as `path_raw` (see `bytesFields`). */
function changeJson(change: TreeChange): string {
  const path = change.isDir ? Buffer.concat([change.path, Buffer.from('/')]) : change.path;
  return jsonLine({ message_type: 'change', ...bytesFields('path', path), modifier: change.modifier });
}
