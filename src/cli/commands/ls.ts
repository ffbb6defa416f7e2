import { InterruptedError, UserError } from '../../core/errors.js';
import type { Id } from '../../core/ids.js';
import { displayPath } from '../../engine/fs/byte-path.js';
import { decodeTree, type TreeNode } from '../../engine/snapshot/tree-format.js';
import { openLockedRepository, type CliContext, type RepoOptions } from '../context.js';
import { findSnapshotExplained, loadIndexWarning } from '../damaged-objects.js';
import { longListing, xattrsJson } from '../node-listing.js';

export interface LsOptions extends RepoOptions {
  /** `-l`: mode (with `+` for an ACL, `@` for other extended attributes), owner, size and time. */
  readonly long?: boolean;
}

/** `ferry ls SNAPSHOT [PATH]`: the entries of a snapshot, below PATH when given. */
export async function lsCommand(ctx: CliContext, ref: string, prefix: string | undefined, options: LsOptions): Promise<number> {
  const { repo, target } = await openLockedRepository(ctx, options);
  await loadIndexWarning(ctx, repo, target);
  const { snapshot } = await findSnapshotExplained(ctx, repo, target, ref);
  const start = (prefix ?? '/').replace(/\/+$/, '');
  let found = start === '';
  const visit = async (tree: Id, dir: string): Promise<void> => {
    for (const node of decodeTree(await repo.loadBlob('tree', tree))) {
      // Stops a long listing on Ctrl-C or a closed stdout (`ferry ls … | head`) even when its trees are cached.
      if (ctx.signal.aborted) throw new InterruptedError('listing interrupted');
      const path = `${dir}/${displayPath(node.name)}`;
      const inside = start === '' || path === start || path.startsWith(`${start}/`);
      const onTheWay = start.startsWith(`${path}/`);
      if (!inside && !onTheWay) continue;
      if (inside) {
        found = true;
        print(ctx, options, node, path);
      }
      if (node.subtree) await visit(node.subtree, path);
    }
  };
  await visit(snapshot.tree, '');
  if (!found) throw new UserError(`${start} is not in this snapshot; its paths are ${snapshot.paths.join(', ')}`);
  return 0;
}

function print(ctx: CliContext, options: LsOptions, node: TreeNode, path: string): void {
  const linkTarget = node.type === 'symlink' ? displayPath(node.linkTarget!) : undefined;
  if (options.json) {
    const mtime = new Date(Number(node.mtimeNs / 1_000_000n)).toISOString();
    const xattrs = node.xattrs ? { extended_attributes: xattrsJson(node.xattrs) } : {};
    ctx.stdout.write(JSON.stringify({ path, type: node.type, size: node.size, mode: node.mode, uid: node.uid, gid: node.gid, mtime, ...xattrs }) + '\n');
  } else if (options.long) {
    ctx.stdout.write(`${longListing(node, path, linkTarget)}\n`);
  } else {
    ctx.stdout.write(`${path}${node.type === 'dir' ? '/' : ''}${node.type === 'symlink' ? ` -> ${displayPath(node.linkTarget!)}` : ''}\n`);
  }
}
