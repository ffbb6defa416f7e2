import { UserError } from '../core/errors.js';
import type { Id } from '../core/ids.js';
import type { UnreadableIndexFile } from '../engine/index/index-set.js';
import { UnreadableSnapshotError, type Repository, type SnapshotListing, type SnapshotRecord, type UnreadableSnapshot } from '../engine/repository/repository.js';
import { objectKey } from '../storage/layout.js';
import type { CliContext, RepositoryTarget } from './context.js';

/**
 * How commands word a damaged snapshot or index file: one line naming the file, what is wrong and what
 * to do. Removing or rewriting needs full access, so for this machine's registered vault (an agent token,
 * append-only) the remedy is a tenant-admin's command with the vault's location instead.
 */

/** The command that removes the snapshot file, as the caller may run it or must ask for it. */
export function snapshotRemedy(target: RepositoryTarget, id: Id): string {
  if (target.registration) {
    return (
      `this machine's agent token may only add to the vault, so ask a tenant-admin to run \`ferry forget ${id} -r ${target.location}\` ` +
      `(or \`ferry repair snapshots --forget -r ${target.location}\`)`
    );
  }
  return `remove it with \`ferry forget ${id}\` or \`ferry repair snapshots --forget\``;
}

/** One line for a snapshot file that does not open. */
export function unreadableSnapshotLine(target: RepositoryTarget, bad: UnreadableSnapshot): string {
  return `snapshot file ${objectKey('snapshot', bad.id)} cannot be read (${bad.error.message}): nothing can be restored from it; ${snapshotRemedy(target, bad.id)}`;
}

/** One line for an index file in effect that does not open (the load went on without it). */
export function unreadableIndexLine(target: RepositoryTarget, bad: UnreadableIndexFile): string {
  const repair = target.registration ? `a tenant-admin runs \`ferry repair index -r ${target.location}\`` : 'you run `ferry repair index`';
  return (
    `index file ${objectKey('index', bad.id)} cannot be read (${bad.error.message}): the packs it lists are not used until ${repair}, ` +
    'which rebuilds the index from the packs (nothing is lost: the packs still hold the data)'
  );
}

/** Loads the readable index files, warning on stderr about each one that does not open. */
export async function loadIndexWarning(ctx: CliContext, repo: Repository, target: RepositoryTarget): Promise<UnreadableIndexFile[]> {
  const unreadable = await repo.loadReadableIndex();
  for (const bad of unreadable) ctx.stderr.write(`warning: ${unreadableIndexLine(target, bad)}\n`);
  return unreadable;
}

/**
 * `repo.findSnapshot(ref)` for restore and ls: a damaged snapshot named by the user becomes a `UserError`
 * with the remedy; `latest` with damaged files around says it is the newest that opens.
 */
export async function findSnapshotExplained(ctx: CliContext, repo: Repository, target: RepositoryTarget, ref: string): Promise<SnapshotRecord> {
  const listing: SnapshotListing = await repo.readSnapshots();
  try {
    const record = await repo.findSnapshot(ref, listing);
    if (ref === 'latest' && listing.unreadable.length > 0) {
      const n = listing.unreadable.length;
      ctx.stderr.write(`warning: "latest" is the newest snapshot that can be read; ${n} snapshot file${n === 1 ? '' : 's'} cannot be read (\`ferry snapshots\` names ${n === 1 ? 'it' : 'them'})\n`);
    }
    return record;
  } catch (err) {
    if (!(err instanceof UnreadableSnapshotError)) throw err;
    const other = ref === 'latest' ? 'no snapshot of this repository can be read' : 'choose another snapshot (`ferry snapshots` lists those that can be read)';
    throw new UserError(`${unreadableSnapshotLine(target, { id: err.snapshotId, error: err.reason })}; ${other}`, { cause: err });
  }
}
