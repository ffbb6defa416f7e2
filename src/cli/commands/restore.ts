import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { shortId } from '../../core/ids.js';
import { envChoice, envInteger } from '../../core/env-integer.js';
import { UserError } from '../../core/errors.js';
import { Restorer, type RestoreProblem, type XattrProblem } from '../../engine/restorer/restorer.js';
import { RestoreSelection } from '../../engine/restorer/restore-selection.js';
import { openLockedRepository, type CliContext, type RepoOptions, type RepositoryTarget } from '../context.js';
import { findSnapshotExplained, loadIndexWarning } from '../damaged-objects.js';
import { formatBytes, formatDuration } from '../format.js';
import { bytesFields } from '../node-json.js';
import { ProgressLine } from '../progress-line.js';

export interface RestoreOptions extends RepoOptions {
  readonly target: string;
  /** Patterns with restic's meaning; include and exclude ones cannot be mixed. */
  readonly include?: string[];
  readonly iinclude?: string[];
  readonly exclude?: string[];
  readonly iexclude?: string[];
  /** False with `--no-xattrs`: extended attributes and ACLs are not set. */
  readonly xattrs?: boolean;
}

/**
 * `ferry restore SNAPSHOT --target DIR`: exit 1 and a list of what failed when anything could not be
 * restored, or when the patterns selected nothing at all; exit 3 when everything was restored but some
 * extended attributes could not be set (each named). A pattern that matched nothing is named on stderr.
 */
export async function restoreCommand(ctx: CliContext, ref: string, options: RestoreOptions): Promise<number> {
  // The tuning variables first: a bad value is an error before the repository is opened.
  const writers = restoreWriters(ctx.env, availableParallelism());
  const writeBehind = restoreWriteBehind(ctx.env);
  const createOnMain = restoreCreatesOnMain(ctx.env);
  const selection = new RestoreSelection({ include: options.include, iinclude: options.iinclude, exclude: options.exclude, iexclude: options.iexclude });
  const { repo, target: repository } = await openLockedRepository(ctx, options);
  const unreadableIndex = await loadIndexWarning(ctx, repo, repository);
  const { id, snapshot } = await findSnapshotExplained(ctx, repo, repository, ref);
  const target = resolve(options.target);
  const problems: RestoreProblem[] = [];
  const xattrProblems: XattrProblem[] = [];
  const progress = { filesDone: 0, bytesDone: 0, currentPath: '' };
  const mode = options.json ? 'json' : ctx.stdout.isTTY ? 'tty' : 'none';
  const totalBytes = selection.all ? snapshot.summary?.totalBytesProcessed : undefined;
  const totalFiles = selection.all ? snapshot.summary?.totalFilesProcessed : undefined;
  const line = new ProgressLine(ctx.stdout, mode, ctx.repoContext.clock, () => ({
    files: progress.filesDone,
    bytes: progress.bytesDone,
    ...(totalBytes !== undefined ? { totalBytes, totalFiles } : {}),
    current: progress.currentPath,
  }));
  const started = ctx.repoContext.clock.now();
  if (!options.json) ctx.stdout.write(`restoring snapshot ${shortId(id)} of ${snapshot.paths.join(', ')} to ${target}\n`);
  line.startTicking();
  const report = (kind: string) => (p: RestoreProblem): void => {
    line.stop();
    if (options.json) ctx.stdout.write(JSON.stringify({ message_type: kind, ...bytesFields('item', p.pathBytes), error: { message: p.error } }) + '\n');
    else ctx.stderr.write(`${kind}: ${p.path}: ${p.error}\n`);
    line.startTicking();
  };
  let restoredAny: boolean;
  try {
    restoredAny = await new Restorer(repo, {
      selection,
      privileged: ctx.isRoot,
      umask: ctx.umask,
      progress,
      signal: ctx.signal,
      onProblem: (p) => {
        problems.push(p);
        report('error')(p);
      },
      onWarning: report('warning'),
      noXattrs: options.xattrs === false,
      // The main thread reads the repository and walks the trees; the writers decode and write files.
      writers,
      writeBehind,
      createOnMain,
      onXattrProblem: (p) => {
        xattrProblems.push(p);
        line.stop();
        if (options.json) ctx.stdout.write(JSON.stringify({ message_type: 'warning', ...bytesFields('item', p.pathBytes), attribute: p.attribute, error: { message: p.error } }) + '\n');
        else ctx.stderr.write(`warning: ${p.path}: extended attribute ${p.attribute} not set: ${p.error}\n`);
        line.startTicking();
      },
    }).restore(snapshot.tree, target);
  } finally {
    line.stop();
  }
  for (const pattern of selection.unmatched()) {
    const message = `${pattern} matched nothing in snapshot ${shortId(id)} (a pattern without a leading / matches at any depth; see \`ferry ls ${shortId(id)}\`)`;
    if (options.json) ctx.stderr.write(JSON.stringify({ message_type: 'warning', warning: { message } }) + '\n');
    else ctx.stderr.write(`warning: ${message}\n`);
  }
  if (!restoredAny && !selection.all) {
    throw new UserError(`the patterns selected nothing in snapshot ${shortId(id)}, so nothing was restored; list its paths with \`ferry ls ${shortId(id)}\` and match them (patterns have restic's meaning)`);
  }
  const elapsed = ctx.repoContext.clock.now() - started;
  if (options.json) {
    ctx.stdout.write(JSON.stringify({ message_type: 'summary', files_restored: progress.filesDone, bytes_restored: progress.bytesDone, errors: problems.length, total_duration: elapsed / 1000 }) + '\n');
  } else {
    ctx.stdout.write(`restored ${progress.filesDone} files, ${formatBytes(progress.bytesDone)} in ${formatDuration(elapsed)}\n`);
  }
  if (problems.length > 0) {
    ctx.stderr.write(`ferry: ${problems.length} entries could not be restored (listed above); the rest is restored. ${remedy(problems, unreadableIndex.length, repository)}\n`);
    return 1;
  }
  if (xattrProblems.length > 0) {
    ctx.stderr.write(
      `ferry: ${xattrProblems.length} extended attributes or ACLs could not be set (listed above); everything else is restored. ` +
        'Restore as root onto a file system that supports them to keep them, or pass --no-xattrs to leave them out.\n',
    );
    return 3;
  }
  return 0;
}

/**
 * What to do about entries that could not be restored, one remedy per kind of problem: a directory in
 * the way is moved away (or the restore goes to an empty folder); a blob missing from the index (often
 * a lost or damaged index file) is found again by rebuilding the index from the packs; a damaged or
 * missing pack is what `check --read-data` names.
 */
function remedy(problems: readonly RestoreProblem[], unreadableIndexFiles: number, target: RepositoryTarget): string {
  const remedies: string[] = [];
  const inTheWay = problems.filter((p) => p.inTheWay !== undefined).length;
  if (inTheWay > 0) {
    const which = inTheWay === problems.length ? 'They are' : `${inTheWay} of them are`;
    remedies.push(`${which} blocked by directories already in the target (named above): move those away and restore again, or restore into an empty folder with --target.`);
  }
  if (problems.some((p) => p.notIndexed)) {
    const why = unreadableIndexFiles > 0 ? ', because some index files cannot be read (see the warnings above)' : '';
    const who = target.registration ? `ask a tenant-admin to run \`ferry repair index -r ${target.location}\`` : 'run `ferry repair index`';
    remedies.push(`Some of them need data the index does not list${why}: ${who} (it rebuilds the index from the packs), then restore again; \`ferry check\` then names anything still lost.`);
  }
  if (problems.some((p) => p.inTheWay === undefined && !p.notIndexed)) {
    const others = remedies.length > 0 ? 'For the others, run' : 'Run';
    remedies.push(`${others} \`ferry check --read-data\` to see which packs are damaged (a message above that names the target, such as permission denied, is about the target instead).`);
  }
  return remedies.join(' ');
}

/**
 * How many file writer threads a restore starts: `FERRY_RESTORE_WRITERS` when set (a whole number from
 * 1 to 64; anything else is a `UserError`), else one per core on up to 2 cores and one fewer than the
 * cores beyond (the main thread reads the repository and walks the trees). On the quiet 2-core machine,
 * with 128 files in flight and folders made on the main thread, two writers restored the bench's 2 GB in
 * 3.6–3.9 s against 4.0–4.4 s for one, at the same CPU (5.3–5.8 CPU-s, restic 8.8–9.3): the CPU that a
 * second writer used to cost (0.71 × restic's per GB in 7977744's bench) went to threads woken for every
 * batch of 16 small files (docs/PERFORMANCE.md, "The lead's second morning").
 */
export function restoreWriters(env: NodeJS.ProcessEnv, cores: number): number {
  return envInteger(env, 'FERRY_RESTORE_WRITERS', { min: 1, max: 64, what: 'a number of file writer threads' }) ?? (cores <= 2 ? Math.max(1, cores) : cores - 1);
}

/** The write-behind ring of each file writer, in MiB, unless `FERRY_RESTORE_WRITE_BEHIND` says otherwise: off. */
export const DEFAULT_WRITE_BEHIND_MIB = 0;

/**
 * Bytes of each file writer's write-behind ring (see FileWriterCore): `FERRY_RESTORE_WRITE_BEHIND` in MiB
 * when set (a whole number from 0 to 256; anything else is a `UserError`), else {@link DEFAULT_WRITE_BEHIND_MIB}. With a ring (4 is a good
 * size) the kernel's copies of large blobs into the page cache run on libuv's thread pool while the writer
 * decodes the next ones, for +4 MiB of memory; 0 writes everything synchronously on the writer thread. Off
 * by default: on the busy 2-core machine it moved ~0.3 CPU-s per GB off the writer thread and added about as
 * much thread hand-off work there (docs/PERFORMANCE.md); a quiet machine may show otherwise.
 */
export function restoreWriteBehind(env: NodeJS.ProcessEnv): number {
  const mib = envInteger(env, 'FERRY_RESTORE_WRITE_BEHIND', { min: 0, max: 256, what: 'a size in MiB', minMeans: 'off' }) ?? DEFAULT_WRITE_BEHIND_MIB;
  return mib * 1024 * 1024;
}

/**
 * Whether the main thread creates the restored files (`FERRY_RESTORE_CREATE=main`, the default) or each
 * file writer creates its own (`writer`); any other value is a `UserError`. The file writers are a restore's slowest stage and the main
 * thread has time to spare, so moving file creation (ext4's inode allocation, ~10 % of a writer's time)
 * there shortens the restore at the same CPU (docs/PERFORMANCE.md).
 */
export function restoreCreatesOnMain(env: NodeJS.ProcessEnv): boolean {
  return envChoice(env, 'FERRY_RESTORE_CREATE', ['main', 'writer'], 'the thread that creates the files') !== 'writer';
}
