import { shortId } from '../../core/ids.js';
import { openLockedRepository, type CliContext, type RepoOptions } from '../context.js';
import { unreadableSnapshotLine } from '../damaged-objects.js';
import { formatBytes } from '../format.js';
import { snapshotJson } from '../restic-json.js';

/**
 * `ferry snapshots`: a table, or with --json an array in restic's shape (see `snapshotJson`), oldest
 * first, of the snapshots that can be read. Each snapshot file that cannot be read is named on stderr with what to do, and the exit code is
 * then 3 (the list is incomplete); stdout stays a valid table or JSON array of the others.
 */
export async function snapshotsCommand(ctx: CliContext, options: RepoOptions): Promise<number> {
  const { repo, target } = await openLockedRepository(ctx, options);
  const { snapshots: records, unreadable } = await repo.readSnapshots();
  for (const bad of unreadable) ctx.stderr.write(`ferry: ${unreadableSnapshotLine(target, bad)}\n`);
  const code = unreadable.length > 0 ? 3 : 0;
  if (options.json) {
    const list = records.map(({ id, snapshot }) => snapshotJson(id, snapshot));
    ctx.stdout.write(JSON.stringify(list) + '\n');
    return code;
  }
  ctx.stdout.write(`${'ID'.padEnd(10)}${'Time'.padEnd(21)}${'Host'.padEnd(16)}${'Size'.padStart(11)}  Paths\n`);
  for (const { id, snapshot: s } of records) {
    const time = s.time.slice(0, 19).replace('T', ' ');
    const size = s.summary ? formatBytes(s.summary.totalBytesProcessed) : '';
    const tags = s.tags.length > 0 ? ` [${s.tags.join(',')}]` : '';
    ctx.stdout.write(`${shortId(id).padEnd(10)}${time.padEnd(21)}${s.hostname.slice(0, 15).padEnd(16)}${size.padStart(11)}  ${s.paths.join(', ')}${tags}\n`);
  }
  const bad = unreadable.length > 0 ? `, ${unreadable.length} cannot be read (named above)` : '';
  ctx.stdout.write(`${records.length} snapshot${records.length === 1 ? '' : 's'}${bad}\n`);
  return code;
}
