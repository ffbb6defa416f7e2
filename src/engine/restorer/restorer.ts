import { chmodSync, constants, lchownSync, lstatSync, rmdirSync } from 'node:fs';
import { link, mkdir, realpath } from 'node:fs/promises';
import { InterruptedError, IntegrityError, isErrno } from '../../core/errors.js';
import { shortId, type Id } from '../../core/ids.js';
import { Semaphore } from '../../core/semaphore.js';
import { bytePath, displayPath, joinBytePath, matchText } from '../fs/byte-path.js';
import { DirHandle } from '../fs/dir-handle.js';
import { describeError } from '../fs/fs-error.js';
import { makeFifo, makeNode, setTimesNs } from '../os/posix-extras.js';
import { writeXattrs, xattrFailureReason } from '../os/xattrs.js';
import { BlobUnavailableError } from '../repository/blob-reader.js';
import type { Repository } from '../repository/repository.js';
import { decodeTree, isSafeName, type TreeNode } from '../snapshot/tree-format.js';
import { createDirectory, createSymlink, DirectoryInTheWayError, discard, replacing } from './restore-target.js';
import { RestoreSelection } from './restore-selection.js';
import type { BlobWrite, FinishedReply, WireError } from './file-writer-protocol.js';
import { FileWriters, MAX_READ, type WriterFile } from './file-writers.js';

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
  /**
   * Worker threads that decode blobs and write the files (the main thread reads the repository and
   * walks the trees); 0 or absent: the calling thread does it too.
   */
  readonly writers?: number;
  /**
   * Bytes of each writer's write-behind ring: blobs of 128 KiB and more are written by libuv's thread
   * pool while the writer decodes the next ones (see FileWriterCore). 0 or absent: writes are synchronous.
   */
  readonly writeBehind?: number;
  /** Create each file on the calling thread and hand its descriptor to a writer (see FileWriterSetup). */
  readonly createOnMain?: boolean;
}

/**
 * Files restored at once. Small files are where this matters: the writer gets each turn's files as one
 * batch, and with 32 at a time it got a batch of ~16 and went idle waiting for the next, woken again and
 * again (the source tree of the scale-1 bench, 24,000 files of 15 KB: 3.3–3.6 s, 3.4–3.8 CPU-s against
 * 2.4–4.2 s, 3.2–3.5 CPU-s with 128, busy machine). The bytes in flight are bounded by the file writers'
 * buffer budget, whatever this is.
 */
const FILE_RESTORES = 128;
/**
 * Files queued beyond those restoring before the walk of the tree waits: the walk goes on into the next
 * folders while a folder's files are restored (so the writers never drain at a folder's end), and this
 * bounds the folders held open for their files and the files queued in memory.
 */
const WALK_AHEAD = 64;
/**
 * Bytes the calling thread writes before the writer threads start: a small restore is done before a
 * thread would have loaded its modules (~0.1 CPU-s), a large one hardly notices (as a backup's encoders).
 */
const WRITERS_START_AFTER = 4 * 1024 * 1024;
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
  /** Files queued and not started yet, and the walk waiting for them to start (see {@link WALK_AHEAD}). */
  private queuedFiles = 0;
  private walkWaiting: (() => void) | undefined;
  /** First restored name of each multiply linked source inode, settled once that file is complete. */
  private readonly linkTargets = new Map<string, Promise<Buffer | undefined>>();

  constructor(
    private readonly repo: Repository,
    private readonly options: RestoreOptions,
  ) {
    this.selection = options.selection ?? new RestoreSelection();
  }

  private readonly selection: RestoreSelection;
  private writers: FileWriters | undefined;

  /** Returns false when the selection chose no entry at all (nothing was restored). */
  async restore(rootTree: Id, target: string): Promise<boolean> {
    await mkdir(target, { recursive: true });
    // The target itself may be reached through a symlink the user chose; below it nothing is followed.
    const real = bytePath(await realpath(target));
    const reader = this.repo.blobReader;
    this.writers = new FileWriters(
      { encryptionKey: this.repo.key.encryptionKey, writeBehind: this.options.writeBehind ?? 0, createOnMain: this.options.createOnMain ?? false },
      this.options.writers ?? 0,
      (packId, offset, length, buffer, first) => reader.readSealedInto(packId, offset, length, buffer, first),
      undefined,
      WRITERS_START_AFTER,
    );
    try {
      const root = await this.restoreTree(rootTree, real, real, Buffer.alloc(0));
      await root.done;
      return root.any;
    } finally {
      await this.writers.close();
      this.writers = undefined;
    }
  }

  /**
   * Restores the selected entries of `tree` into the directory reached at `access`; `realDir` is its real
   * path (for hard links), `snapshotDir` its path in the snapshot (for messages and the selection).
   * A folder that is not selected itself is walked when something below it may be, and kept only when
   * something below it was selected (as restic does). Resolves once the tree is walked, with whether any
   * entry here or below was selected, and `done`: settled once every file here and below is restored and
   * every folder below has its metadata (a folder's times are set after its entries are made).
   */
  private async restoreTree(tree: Id, access: Buffer, realDir: Buffer, snapshotDir: Buffer): Promise<{ any: boolean; done: Promise<void> }> {
    let nodes: TreeNode[];
    let dir: DirHandle;
    try {
      nodes = decodeTree(await this.repo.loadBlob('tree', tree));
      dir = await DirHandle.open(access);
    } catch (err) {
      this.problem(snapshotDir.length > 0 ? snapshotDir : SLASH, err);
      return { any: false, done: Promise.resolve() };
    }
    const pending: Promise<unknown>[] = [];
    // Awaited together once the walk here is over; until then a failure must not count as unhandled.
    const track = (work: Promise<unknown>): void => {
      work.catch(() => undefined);
      pending.push(work);
    };
    let any = false;
    try {
      const wanted = nodes
        .filter((node) => isSafeName(node.name))
        .map((node) => {
          const snapshotPath = Buffer.concat([snapshotDir, SLASH, node.name]);
          const selected = this.selection.all ? { selected: true, walk: node.type === 'dir' } : this.selection.select(matchText(snapshotPath), node.type === 'dir');
          return { node, path: dir.child(node.name), realPath: joinBytePath(realDir, node.name), snapshotPath, ...selected };
        })
        .filter((entry) => entry.selected || entry.walk);
      any = wanted.some((e) => e.selected);
      // The files here are restored while the folders below are walked (the files semaphore bounds the
      // work in flight); the handle of this folder stays open until they are done.
      for (const e of wanted) if (e.node.type !== 'dir') track(this.queueFile(() => this.restoreLeaf(e.node, e.path, e.realPath, e.snapshotPath, dir.fd)));
      for (const { node, path, realPath, snapshotPath, selected, walk } of wanted) {
        if (node.type !== 'dir') continue;
        this.checkSignal();
        while (this.queuedFiles > WALK_AHEAD) await new Promise<void>((resolve) => (this.walkWaiting = resolve));
        const existed = !selected && lstatSync(path, { throwIfNoEntry: false }) !== undefined;
        try {
          createDirectory(path);
        } catch (err) {
          this.problem(snapshotPath, err);
          continue;
        }
        const below = walk ? await this.restoreTree(node.subtree!, path, realPath, snapshotPath) : { any: false, done: Promise.resolve() };
        if (selected || below.any) any = true;
        track(
          below.done.then(() => {
            if (selected || below.any) this.applyMetadata(node, path, snapshotPath);
            // Walked for nothing: the folder was only made to look inside.
            else if (!existed) removeEmptyFolder(path);
          }),
        );
      }
    } catch (err) {
      await Promise.allSettled(pending);
      await dir.close();
      throw err;
    }
    // The folder's handle is closed once nothing here uses it any more, whatever failed.
    const done = Promise.allSettled(pending).then(async (results) => {
      await dir.close();
      const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failed) throw failed.reason;
    });
    done.catch(() => undefined);
    return { any, done };
  }

  /** Queues a file's restore behind {@link FILE_RESTORES} running ones, counting it until it starts. */
  private queueFile(restore: () => Promise<void>): Promise<void> {
    this.queuedFiles++;
    return this.files.run(() => {
      this.queuedFiles--;
      if (this.queuedFiles <= WALK_AHEAD && this.walkWaiting) {
        const wake = this.walkWaiting;
        this.walkWaiting = undefined;
        wake();
      }
      return restore();
    });
  }

  /** `dirFd`: the open directory the entry goes in (see DirHandle.fd), when there is one. */
  private async restoreLeaf(node: TreeNode, path: Buffer, realPath: Buffer, snapshotPath: Buffer, dirFd: number | undefined): Promise<void> {
    this.checkSignal();
    this.options.progress.currentPath = displayPath(snapshotPath);
    let timesSet = false;
    try {
      if (node.type === 'file') {
        // Look up and register synchronously, before any await, so concurrent names of one inode agree.
        const firstName = node.links > 1 ? this.linkTargets.get(linkKey(node)) : undefined;
        if (firstName && (await this.restoreHardLink(await firstName, path))) return;
        const done = this.restoreFile(node, path, snapshotPath, dirFd);
        if (node.links > 1 && !firstName) this.linkTargets.set(linkKey(node), done.then(() => realPath, () => undefined));
        timesSet = await done;
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
      this.applyMetadata(node, path, snapshotPath, timesSet);
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

  /**
   * Restores a file's content through the file writers: blobs that lie next to each other in one pack
   * are read with one ranged read (up to {@link MAX_READ} bytes), and a writer decodes and writes them.
   * Owner and mode are set on the open file (special bits after fchown, which clears them), and the
   * times too unless extended attributes come first. Returns whether the times were set.
   */
  private async restoreFile(node: TreeNode, path: Buffer, snapshotPath: Buffer, dirFd: number | undefined): Promise<boolean> {
    // When the umask leaves the permission bits alone, create the file with them and skip fchmod;
    // special bits (setuid, setgid, sticky) always get an fchmod after fchown, which clears them.
    const umask = this.options.umask;
    const modeAtCreate = umask !== undefined && (node.mode & ~0o777) === 0 && (node.mode & umask) === 0;
    const writers = this.writers!;
    const file = writers.open(path, modeAtCreate ? node.mode : 0o600, dirFd !== undefined ? { dirFd, name: node.name } : undefined);
    const setTimes = !(node.xattrs && node.xattrs.length > 0 && !this.options.noXattrs);
    const packs = new Map<Id, Id>();
    let reply: FinishedReply;
    try {
      const size = await this.writeContent(file, node.content!, packs);
      if (size !== node.size) throw new IntegrityError(`content of ${displayPath(snapshotPath)} has ${size} bytes, the snapshot says ${node.size}`);
    } catch (err) {
      // A file the writer could not even create is that problem (e.g. a directory in the way), not this one.
      reply = await writers.finish(file, { abort: true, size: 0 });
      throw reply.error ? this.writerError(reply.error, packs) : err;
    }
    reply = await writers.finish(file, {
      abort: false,
      size: node.size,
      ...(this.options.privileged ? { owner: { uid: node.uid, gid: node.gid } } : {}),
      ...(modeAtCreate ? {} : { mode: node.mode }),
      ...(setTimes ? { mtimeNs: node.mtimeNs } : {}),
    });
    if (reply.error) throw this.writerError(reply.error, packs);
    if (reply.timesError) this.problem(snapshotPath, wireToError(reply.timesError));
    return setTimes;
  }

  /** Hands the content's blobs to the file's writer, run by run; returns the content's size. */
  private async writeContent(file: WriterFile, content: readonly Id[], packs: Map<Id, Id>): Promise<number> {
    const reader = this.repo.blobReader;
    let position = 0;
    for (let i = 0; i < content.length; ) {
      this.checkSignal();
      // One run: the next blobs that follow each other in one pack.
      const first = reader.locate('data', content[i]!);
      const blobs: BlobWrite[] = [];
      let end = first.offset;
      for (; i < content.length; i++) {
        const location = blobs.length === 0 ? first : reader.locate('data', content[i]!);
        if (blobs.length > 0 && (location.packId !== first.packId || location.offset !== end || end + location.length - first.offset > MAX_READ)) break;
        blobs.push({ type: 'data', id: content[i]!, compression: location.compression, rawLength: location.rawLength, at: location.offset - first.offset, length: location.length, position });
        packs.set(content[i]!, location.packId);
        end = location.offset + location.length;
        position += location.rawLength;
      }
      await this.writers!.write(file, { packId: first.packId, offset: first.offset, length: end - first.offset, blobs });
      for (const blob of blobs) this.options.progress.bytesDone += blob.rawLength;
    }
    return position;
  }

  /** The error a writer reported, as the restorer's other errors are. */
  private writerError(error: WireError, packs: ReadonlyMap<Id, Id>): Error {
    if (error.inTheWay) return new DirectoryInTheWayError();
    const blob = error.damagedBlob;
    if (blob !== undefined) {
      const packId = packs.get(blob);
      return new BlobUnavailableError(`data blob ${shortId(blob)} in pack ${packId ? shortId(packId) : '?'} is damaged`, blob, packId, { cause: new IntegrityError(error.message) });
    }
    return wireToError(error);
  }

  /**
   * Owner and mode (files got theirs in restoreFile), then extended attributes, then times (unless
   * `timesSet`: a file's writer set them when it had no attributes): chown clears `security.capability`,
   * and setting attributes changes the ctime only, not the mtime set last. Synchronous: each call is a few
   * microseconds in the kernel, less than a round trip through libuv's thread pool.
   */
  private applyMetadata(node: TreeNode, path: Buffer, snapshotPath: Buffer, timesSet = false): void {
    try {
      if (node.type !== 'file') {
        if (this.options.privileged) lchownSync(path, node.uid, node.gid);
        if (node.type !== 'symlink') chmodSync(path, node.mode);
      }
      if (node.xattrs && !this.options.noXattrs) {
        for (const failure of writeXattrs(path, node.xattrs)) {
          const problem = { ...shown(snapshotPath), attribute: displayPath(failure.name), error: xattrFailureReason(failure, 'set') };
          if (this.options.onXattrProblem) this.options.onXattrProblem(problem);
          else this.options.onWarning({ ...shown(snapshotPath), error: `extended attribute ${problem.attribute} not set: ${problem.error}` });
        }
      }
      if (!timesSet) setTimesNs(path, node.mtimeNs, node.mtimeNs, { noFollow: true });
    } catch (err) {
      this.problem(snapshotPath, err);
    }
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

/** Removes a folder made only to look inside (left alone when something is in it after all). */
function removeEmptyFolder(path: Buffer): void {
  try {
    rmdirSync(path);
  } catch {
    // Not empty or already gone: either way nothing of the user's is touched.
  }
}

function linkKey(node: TreeNode): string {
  return `${node.device}:${node.inode}`;
}

/** An error a writer reported, rebuilt with a system error's fields (so `isErrno` and `describeError` work). */
function wireToError(error: WireError): Error {
  const err = new Error(error.message) as NodeJS.ErrnoException;
  if (error.code !== undefined) err.code = error.code;
  if (error.errno !== undefined) err.errno = error.errno;
  if (error.syscall !== undefined) err.syscall = error.syscall;
  return err;
}
