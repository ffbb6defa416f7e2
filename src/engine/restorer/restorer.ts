import { constants } from 'node:fs';
import { chmod, lchown, link, lstat, mkdir, realpath, rmdir, type FileHandle } from 'node:fs/promises';
import { InterruptedError, IntegrityError, isErrno } from '../../core/errors.js';
import type { Id } from '../../core/ids.js';
import { Semaphore } from '../../core/semaphore.js';
import { bytePath, displayPath, joinBytePath, matchText } from '../fs/byte-path.js';
import { DirHandle } from '../fs/dir-handle.js';
import { describeError } from '../fs/fs-error.js';
import { makeFifo, makeNode, setTimesNs } from '../os/posix-extras.js';
import { writeXattrs, xattrFailureReason } from '../os/xattrs.js';
import { BlobUnavailableError } from '../repository/blob-reader.js';
import type { Repository } from '../repository/repository.js';
import { decodeTree, isSafeName, type TreeNode } from '../snapshot/tree-format.js';
import { createDirectory, createFile, createSymlink, DirectoryInTheWayError, discard, replacing } from './restore-target.js';
import { RestoreSelection } from './restore-selection.js';

export interface RestoreProgress {
  filesDone: number;
  bytesDone: number;
  currentPath: string;
}

/** An entry that could not be restored, with the snapshot path and why. */
export interface RestoreProblem {
  /** The snapshot path as shown to a person (see `displayPath`). */
  readonly path: string;
  /** The snapshot path's exact bytes (for `--json`). */
  readonly pathBytes: Buffer;
  readonly error: string;
  /** Set when a blob the entry needs is in no readable index file (rebuilding the index may find it in a pack). */
  readonly notIndexed?: boolean;
  /** Set when a directory in the target stands where the entry goes: its real path (left as it was). */
  readonly inTheWay?: string;
}

/** An extended attribute (or ACL) that could not be set on an otherwise restored entry. */
export interface XattrProblem {
  readonly path: string;
  readonly pathBytes: Buffer;
  /** The attribute's name, e.g. `trusted.x` or `system.posix_acl_access` (bytes that are not UTF-8 escaped). */
  readonly attribute: string;
  readonly error: string;
}

export interface RestoreOptions {
  /** Which entries to restore (`--include`/`--exclude` patterns); everything when absent. */
  readonly selection?: RestoreSelection;
  /** Restore owners and device nodes (needs root). */
  readonly privileged: boolean;
  /** The process umask, when known: lets files be created with their final mode. */
  readonly umask?: number;
  readonly progress: RestoreProgress;
  readonly onProblem: (problem: RestoreProblem) => void;
  readonly onWarning: (warning: RestoreProblem) => void;
  /** Leave extended attributes and ACLs unset (`restore --no-xattrs`). */
  readonly noXattrs?: boolean;
  /** Called once per attribute that could not be set; the entry itself stays restored. Without it, `onWarning`. */
  readonly onXattrProblem?: (problem: XattrProblem) => void;
  readonly signal?: AbortSignal;
}

const FILE_RESTORES = 8;
/** Chunks of a file read ahead while the current one is written, so reading and writing overlap. */
const BLOB_LOOKAHEAD = 2;
/** Granularity of hole detection: the usual file system block size. */
const SPARSE_BLOCK = 4096;
const ZERO_BLOCK = Buffer.alloc(SPARSE_BLOCK);
const TYPE_BITS: Record<string, number> = { socket: constants.S_IFSOCK, chardev: constants.S_IFCHR, blockdev: constants.S_IFBLK };

/**
 * Restores a snapshot tree into a target directory: content, permission bits, nanosecond times,
 * owners (when privileged), extended attributes and ACLs, symlinks (never followed), hard links and
 * special files. Holes are left
 * where the content is all zeros, so sparse files stay sparse. A file whose data cannot be read is
 * removed and reported, never left with wrong bytes.
 */
export class Restorer {
  private readonly files = new Semaphore(FILE_RESTORES);
  /** First restored name of each multiply linked source inode, settled once that file is complete. */
  private readonly linkTargets = new Map<string, Promise<Buffer | undefined>>();

  constructor(
    private readonly repo: Repository,
    private readonly options: RestoreOptions,
  ) {
    this.selection = options.selection ?? new RestoreSelection();
  }

  private readonly selection: RestoreSelection;

  /** Returns false when the selection chose no entry at all (nothing was restored). */
  async restore(rootTree: Id, target: string): Promise<boolean> {
    await mkdir(target, { recursive: true });
    // The target itself may be reached through a symlink the user chose; below it nothing is followed.
    const real = bytePath(await realpath(target));
    return this.restoreTree(rootTree, real, real, Buffer.alloc(0));
  }

  /**
   * Restores the selected entries of `tree` into the directory reached at `access`; `realDir` is its real
   * path (for hard links), `snapshotDir` its path in the snapshot (for messages and the selection).
   * A folder that is not selected itself is walked when something below it may be, and kept only when
   * something below it was selected (as restic does). Returns whether any entry here or below was selected.
   */
  private async restoreTree(tree: Id, access: Buffer, realDir: Buffer, snapshotDir: Buffer): Promise<boolean> {
    let nodes: TreeNode[];
    let dir: DirHandle;
    try {
      nodes = decodeTree(await this.repo.loadBlob('tree', tree));
      dir = await DirHandle.open(access);
    } catch (err) {
      this.problem(snapshotDir.length > 0 ? snapshotDir : SLASH, err);
      return false;
    }
    let any = false;
    try {
      const wanted = nodes
        .filter((node) => isSafeName(node.name))
        .map((node) => {
          const snapshotPath = Buffer.concat([snapshotDir, SLASH, node.name]);
          return { node, path: dir.child(node.name), realPath: joinBytePath(realDir, node.name), snapshotPath, ...this.selection.select(matchText(snapshotPath), node.type === 'dir') };
        })
        .filter((entry) => entry.selected || entry.walk);
      any = wanted.some((e) => e.selected);
      await Promise.all(wanted.filter((e) => e.node.type !== 'dir').map((e) => this.files.run(() => this.restoreLeaf(e.node, e.path, e.realPath, e.snapshotPath))));
      for (const { node, path, realPath, snapshotPath, selected, walk } of wanted) {
        if (node.type !== 'dir') continue;
        this.checkSignal();
        const existed = !selected && (await lstat(path).then(() => true, () => false));
        try {
          await createDirectory(path);
        } catch (err) {
          this.problem(snapshotPath, err);
          continue;
        }
        const below = walk && (await this.restoreTree(node.subtree!, path, realPath, snapshotPath));
        if (selected || below) {
          any = true;
          await this.applyMetadata(node, path, snapshotPath);
        } else if (!existed) {
          // Walked for nothing: the folder was only made to look inside.
          await rmdir(path).catch(() => undefined);
        }
      }
    } finally {
      await dir.close();
    }
    return any;
  }

  private async restoreLeaf(node: TreeNode, path: Buffer, realPath: Buffer, snapshotPath: Buffer): Promise<void> {
    this.checkSignal();
    this.options.progress.currentPath = displayPath(snapshotPath);
    try {
      if (node.type === 'file') {
        // Look up and register synchronously, before any await, so concurrent names of one inode agree.
        const firstName = node.links > 1 ? this.linkTargets.get(linkKey(node)) : undefined;
        if (firstName && (await this.restoreHardLink(await firstName, path))) return;
        const done = this.restoreFile(node, path, snapshotPath);
        if (node.links > 1 && !firstName) this.linkTargets.set(linkKey(node), done.then(() => realPath, () => undefined));
        await done;
      } else if (node.type === 'symlink') {
        await createSymlink(node.linkTarget!, path);
      } else if (node.type === 'fifo') {
        await replacing(path, () => makeFifo(path, node.mode));
      } else {
        const isDevice = node.type !== 'socket';
        if (isDevice && !this.options.privileged) {
          this.options.onWarning({ ...shown(snapshotPath), error: `${node.type} not restored: creating device nodes needs root` });
          return;
        }
        await replacing(path, () => makeNode(path, TYPE_BITS[node.type]! | node.mode, node.rdev ?? 0n));
      }
      await this.applyMetadata(node, path, snapshotPath);
      this.options.progress.filesDone++;
    } catch (err) {
      if (err instanceof InterruptedError) throw err;
      if (node.type === 'file') await discard(path).catch(() => undefined);
      if (isErrno(err, 'EPERM') && node.type !== 'file' && node.type !== 'symlink') {
        this.options.onWarning({ ...shown(snapshotPath), error: `${node.type} not restored: ${describeError(err)}` });
        return;
      }
      if (err instanceof DirectoryInTheWayError) {
        this.directoryInTheWay(node, realPath, snapshotPath);
        return;
      }
      this.problem(snapshotPath, err);
    }
  }

  /** Links `path` to the already restored first name of its inode; false when that one failed. */
  private async restoreHardLink(firstName: Buffer | undefined, path: Buffer): Promise<boolean> {
    if (!firstName) return false;
    await discard(path);
    await link(firstName, path);
    this.options.progress.filesDone++;
    return true;
  }

  private async restoreFile(node: TreeNode, path: Buffer, snapshotPath: Buffer): Promise<void> {
    // When the umask leaves the permission bits alone, create the file with them and skip fchmod;
    // special bits (setuid, setgid, sticky) always get an fchmod after fchown, which clears them.
    const umask = this.options.umask;
    const modeAtCreate = umask !== undefined && (node.mode & ~0o777) === 0 && (node.mode & umask) === 0;
    const file = await createFile(path, modeAtCreate ? node.mode : 0o600);
    try {
      let offset = 0;
      let written = 0;
      const content = node.content!;
      const loads = new Map<number, Promise<Buffer>>();
      const startLoad = (i: number): void => {
        if (i >= content.length) return;
        const load = this.repo.loadBlob('data', content[i]!);
        // Awaited in order below; this only keeps a failure of a later chunk from going unhandled.
        load.catch(() => undefined);
        loads.set(i, load);
      };
      for (let i = 0; i < BLOB_LOOKAHEAD; i++) startLoad(i);
      for (let i = 0; i < content.length; i++) {
        this.checkSignal();
        const data = await loads.get(i)!;
        loads.delete(i);
        startLoad(i + BLOB_LOOKAHEAD);
        const end = await this.writeSkippingZeros(file, data, offset);
        if (end > 0) written = end;
        offset += data.length;
        this.options.progress.bytesDone += data.length;
        this.repo.recycleBlob(data);
      }
      if (offset !== node.size) throw new IntegrityError(`content of ${displayPath(snapshotPath)} has ${offset} bytes, the snapshot says ${node.size}`);
      // Only a trailing hole leaves the file shorter than its content.
      if (written < offset) await file.truncate(offset);
      if (this.options.privileged) await file.chown(node.uid, node.gid);
      if (!modeAtCreate) await file.chmod(node.mode);
    } finally {
      await file.close();
    }
  }

  /**
   * Owner and mode (files got theirs in restoreFile), then extended attributes, then times: chown clears
   * `security.capability`, and setting attributes changes the ctime only, not the mtime set last.
   */
  private async applyMetadata(node: TreeNode, path: Buffer, snapshotPath: Buffer): Promise<void> {
    try {
      if (node.type !== 'file') {
        if (this.options.privileged) await lchown(path, node.uid, node.gid);
        if (node.type !== 'symlink') await chmod(path, node.mode);
      }
      if (node.xattrs && !this.options.noXattrs) {
        for (const failure of writeXattrs(path, node.xattrs)) {
          const problem = { ...shown(snapshotPath), attribute: displayPath(failure.name), error: xattrFailureReason(failure, 'set') };
          if (this.options.onXattrProblem) this.options.onXattrProblem(problem);
          else this.options.onWarning({ ...shown(snapshotPath), error: `extended attribute ${problem.attribute} not set: ${problem.error}` });
        }
      }
      setTimesNs(path, node.mtimeNs, node.mtimeNs, { noFollow: true });
    } catch (err) {
      this.problem(snapshotPath, err);
    }
  }

  /**
   * Writes `data` at `position` but skips all-zero blocks, which stay holes in the new file: sparse
   * files come back sparse, and the content reads the same either way. Returns the file offset where
   * the last write ended (0 when everything was zeros).
   */
  private async writeSkippingZeros(file: FileHandle, data: Buffer, position: number): Promise<number> {
    let runStart = -1;
    let writtenEnd = 0;
    for (let at = 0; at < data.length; at += SPARSE_BLOCK) {
      const end = Math.min(at + SPARSE_BLOCK, data.length);
      const zero = data.compare(ZERO_BLOCK, 0, end - at, at, end) === 0;
      if (!zero && runStart < 0) runStart = at;
      if (zero && runStart >= 0) {
        await writeAll(file, data.subarray(runStart, at), position + runStart);
        writtenEnd = position + at;
        runStart = -1;
      }
    }
    if (runStart >= 0) {
      await writeAll(file, data.subarray(runStart), position + runStart);
      writtenEnd = position + data.length;
    }
    return writtenEnd;
  }

  private checkSignal(): void {
    if (this.options.signal?.aborted) throw new InterruptedError('restore interrupted');
  }

  private problem(path: Buffer, err: unknown): void {
    if (err instanceof InterruptedError) throw err;
    // Once interrupted, a failure is the interruption (storage refusing work), not a damaged entry.
    if (this.options.signal?.aborted) throw new InterruptedError('restore interrupted', { cause: err });
    // describeError: Node's message would name the `/proc/self/fd/N/…` path the entry was reached by.
    this.options.onProblem({ ...shown(path), error: describeError(err), ...(isNotIndexed(err) ? { notIndexed: true } : {}) });
  }

  /** The user's directory stays as it is; the message names it by its real path and says what to do. */
  private directoryInTheWay(node: TreeNode, realPath: Buffer, snapshotPath: Buffer): void {
    const where = displayPath(realPath);
    const what = node.type === 'file' ? 'a file' : node.type === 'symlink' ? 'a symlink' : `a ${node.type}`;
    this.options.onProblem({
      ...shown(snapshotPath),
      error: `not restored: the directory ${where} is in the way (the snapshot has ${what} there); move it away and restore again, or restore into an empty folder`,
      inTheWay: where,
    });
  }
}

/** A blob that the index does not list (as opposed to one whose pack is missing or damaged). */
function isNotIndexed(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) if (e instanceof BlobUnavailableError) return e.packId === undefined;
  return false;
}

const SLASH = Buffer.from('/');

/** A snapshot path as messages carry it: shown to a person, and exact. */
function shown(path: Buffer): { path: string; pathBytes: Buffer } {
  return { path: displayPath(path), pathBytes: path };
}

function linkKey(node: TreeNode): string {
  return `${node.device}:${node.inode}`;
}

async function writeAll(file: FileHandle, data: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await file.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}
