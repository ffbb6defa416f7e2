import { shortId } from '../../core/ids.js';
import { openRepository, type CliContext, type RepoOptions } from '../context.js';
import { formatBytes } from '../format.js';

/** `ferry snapshots`: a table, or with --json an array in restic's shape. */
export async function snapshotsCommand(ctx: CliContext, options: RepoOptions): Promise<number> {
  const repo = await openRepository(ctx, options);
  const records = await repo.listSnapshots();
  if (options.json) {
    const list = records.map(({ id, snapshot: s }) => ({
      id,
      short_id: shortId(id),
      time: s.time,
      hostname: s.hostname,
      username: s.username,
      paths: s.paths,
      tags: s.tags,
      tree: s.tree,
      parent: s.parent,
      summary: s.summary,
      skipped: s.skipped,
    }));
    ctx.stdout.write(JSON.stringify(list) + '\n');
    return 0;
  }
  ctx.stdout.write(`${'ID'.padEnd(10)}${'Time'.padEnd(21)}${'Host'.padEnd(16)}${'Size'.padStart(11)}  Paths\n`);
  for (const { id, snapshot: s } of records) {
    const time = s.time.slice(0, 19).replace('T', ' ');
    const size = s.summary ? formatBytes(s.summary.totalBytesProcessed) : '';
    const tags = s.tags.length > 0 ? ` [${s.tags.join(',')}]` : '';
    ctx.stdout.write(`${shortId(id).padEnd(10)}${time.padEnd(21)}${s.hostname.slice(0, 15).padEnd(16)}${size.padStart(11)}  ${s.paths.join(', ')}${tags}\n`);
  }
  ctx.stdout.write(`${records.length} snapshot${records.length === 1 ? '' : 's'}\n`);
  return 0;
}
