import { InterruptedError, UserError } from '../../core/errors.js';
import { shortId, type Id } from '../../core/ids.js';
import { displayPath } from '../../engine/fs/byte-path.js';
import { goUnquote } from '../../engine/fs/go-quote.js';
import { decodeTree, type TreeNode } from '../../engine/snapshot/tree-format.js';
import { openLockedRepository, type CliContext, type RepoOptions } from '../context.js';
import { findSnapshotExplained, loadIndexWarning } from '../damaged-objects.js';
import { jsonLine, nodeJson } from '../node-json.js';
import { snapshotJson } from '../restic-json.js';
import { longListing } from '../node-listing.js';
import { ListingFilter, type FolderPath } from '../listing-filter.js';

export interface LsOptions extends RepoOptions {
  /** `-l`: mode (with `+` for an ACL, `@` for other extended attributes), owner, size and time. */
  readonly long?: boolean;
  /** With folders given: everything below them, not only their direct entries. */
  readonly recursive?: boolean;
}

/**
 * `ferry ls SNAPSHOT [FOLDER…]`, as restic's: every entry of the snapshot; with folders, each folder
 * and its direct entries (a file: itself), and with `--recursive` everything below them. A folder
 * missing from the snapshot is an error naming the snapshot's paths (restic prints nothing). With
 * `--json`, a snapshot line, then one node line per entry (see node-json.ts).
 */
export async function lsCommand(ctx: CliContext, ref: string, folders: readonly string[], options: LsOptions): Promise<number> {
  const filter = new ListingFilter(folders.map(folderArgument), options.recursive === true);
  const { repo, target } = await openLockedRepository(ctx, options);
  await loadIndexWarning(ctx, repo, target);
  const { id, snapshot } = await findSnapshotExplained(ctx, repo, target, ref);
  if (options.json) ctx.stdout.write(jsonLine({ ...snapshotJson(id, snapshot), message_type: 'snapshot', struct_type: 'snapshot' }));
  const visit = async (tree: Id, dir: Buffer): Promise<void> => {
    for (const node of decodeTree(await repo.loadBlob('tree', tree))) {
      // Stops a long listing on Ctrl-C or a closed stdout (`ferry ls … | head`) even when its trees are cached.
      if (ctx.signal.aborted) throw new InterruptedError('listing interrupted');
      const path = Buffer.concat([dir, SLASH, node.name]);
      const { list, descend } = filter.visit(path);
      if (list) print(ctx, options, node, path);
      if (descend && node.subtree) await visit(node.subtree, path);
    }
  };
  await visit(snapshot.tree, Buffer.alloc(0));
  const missing = filter.notFound();
  if (missing.length > 0) {
    const which = missing.map((m) => displayPath(m)).join(', ');
    throw new UserError(`${which} ${missing.length === 1 ? 'is' : 'are'} not in snapshot ${shortId(id)}; its paths are ${snapshot.paths.join(', ')} (list them with \`ferry ls ${shortId(id)}\`)`);
  }
  return 0;
}

const SLASH = Buffer.from('/');

/**
 * A folder argument as bytes: absolute, as the snapshot stores paths; a Go-quoted form as `ls` prints
 * it for names that are not printable UTF-8 (`"/srv/caf\xe9"`) stands for its exact bytes.
 */
function folderArgument(arg: string): FolderPath {
  const bytes = arg.startsWith('"') ? goUnquote(arg) : Buffer.from(arg, 'utf8');
  if (bytes === undefined) throw new UserError(`${arg} is not a path nor a quoted path as \`ferry ls\` prints one (like "/srv/caf\\xe9"); check its quotes and escapes`);
  if (bytes[0] !== 0x2f) throw new UserError(`${arg} is not an absolute path; give the path as the snapshot lists it, starting with / (see \`ferry ls SNAPSHOT\`)`);
  return bytes;
}

function print(ctx: CliContext, options: LsOptions, node: TreeNode, path: Buffer): void {
  const linkTarget = node.linkTarget !== undefined ? displayPath(node.linkTarget) : undefined;
  if (options.json) {
    ctx.stdout.write(jsonLine(nodeJson(node, path)));
  } else if (options.long) {
    ctx.stdout.write(`${longListing(node, displayPath(path), linkTarget)}\n`);
  } else {
    ctx.stdout.write(`${displayPath(path)}${node.type === 'dir' ? '/' : ''}${linkTarget !== undefined ? ` -> ${linkTarget}` : ''}\n`);
  }
}
