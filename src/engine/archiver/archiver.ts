import { lstatSync } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { resolve } from 'node:path';
import { InterruptedError, isErrno } from '../../core/errors.js';
import type { Id } from '../../core/ids.js';
import type { FileChunking } from '../chunker/file-chunking.js';
import { bytePath, displayPath, joinBytePath } from '../fs/byte-path.js';
import type { Repository } from '../repository/repository.js';
import type { RepositoryWriter, SavedBlob } from '../repository/repository-writer.js';
import type { SkippedEntry } from '../snapshot/snapshot.js';
import { decodeTree, encodeTree, type TreeNode } from '../snapshot/tree-format.js';
import type { Excludes } from './excludes.js';
import { readChunks } from './file-chunks.js';
import { sameNode } from '../snapshot/node-equality.js';
import { openSourceFile, type SourceLocation } from './source-file.js';
import { nodeFromStat, nodeTypeOf, SOURCE_OPEN_FLAGS, SOURCE_OPEN_FLAGS_NOATIME, unchangedSince, type SourceStat } from './node-from-stat.js';
import { Semaphore } from '../../core/semaphore.js';
import { PathTrie } from './path-trie.js';
import { describeError } from '../fs/fs-error.js';
import { DirHandle } from '../fs/dir-handle.js';
import { BufferPool, sizeClass } from '../../core/buffer-pool.js';
import { ByteBudget } from '../../core/byte-budget.js';
import { readXattrs, xattrFailureReason } from '../os/xattrs.js';
import { scanDirectory } from '../os/directory-scan.js';
import type { Xattr } from '../snapshot/tree-format.js';

/** Live counters a front end renders; the archiver only increments them. */
export interface BackupProgress {
  filesDone: number;
  dirsDone: number;
  bytesDone: number;
  bytesRead: number;
  /** The entry being looked at, as raw bytes: the front end formats it (`displayPath`) when it shows it. */
  currentPath: Buffer;
  errors: number;
}

/** Per-kind counts of new, changed and unmodified entries, for the summary. */
export interface ArchiveCounts {
  filesNew: number;
  filesChanged: number;
  filesUnmodified: number;
  dirsNew: number;
  dirsChanged: number;
  dirsUnmodified: number;
}

/** A source entry that could not be read: what the snapshot records, and the exact path (for `--json`). */
export interface SkippedSource extends SkippedEntry {
  readonly pathBytes: Buffer;
}

export interface ArchiverOptions {
  readonly excludes: Excludes;
  readonly progress: BackupProgress;
  readonly onSkipped: (entry: SkippedSource) => void;
  readonly signal?: AbortSignal;
  /** Leave extended attributes and ACLs out of the snapshot (`backup --no-xattrs`). */
  readonly noXattrs?: boolean;
  /**
   * Files from a minimum chunk up read at once (at least 1), {@link DEFAULT_LARGE_FILE_READS} by default; of
   * them, one at a time reads into a buffer of a maximum chunk, the others only with the large-file chunker.
   */
  readonly largeFileReads?: number;
}

/** Small files are read several at a time to hide per-file latency. */
const SMALL_FILE_READS = 16;
/**
 * Files from a minimum chunk up read at once, by default (see {@link ArchiverOptions.largeFileReads}); with
 * more than one, only one of them at a time holds a buffer of a maximum chunk (8 MiB): the others are files
 * read with the large-file chunker (2 MiB buffers). A file of 8 MiB or more fills its buffer, which is then
 * kept idle for the next one. Measured at scale 1 (docs/PERFORMANCE.md, "Full backup peak memory"), peak
 * RSS against the two reads with two maximum chunks before: two reads ~-11 MiB at the same wall time, one
 * read ~-19 MiB and 1–5 % more wall time (a large file's reads no longer overlap another's). One, to meet
 * the peak memory target; `FERRY_LARGE_FILE_READS=2` (the CLI) gives the other trade.
 */
export const DEFAULT_LARGE_FILE_READS = 1;
/** Directories walked at the same time beyond the current path. */
const PARALLEL_DIRECTORIES = 8;
/**
 * Small files' buffers in use at once, beside the large files' (see readBudget). Small files' read
 * buffers (4 KiB up to the minimum chunk) come from a pool of their own, so neither kind crowds the other
 * out, instead of a new buffer per file (Node's allocator below 64 KiB); as many bytes are kept idle.
 */
const SMALL_READ_BYTES = 4 * 1024 * 1024;
const SMALLEST_POOLED_READ = 4096;

/**
 * Walks source paths and stores their content and trees. Unchanged files (same size, mtime, ctime and
 * inode as in the parent snapshot, with all their chunks still indexed) are not read again. Extended
 * attributes (and ACLs) are read for every entry, changed or not, so a change of attributes alone is
 * never missed.
 * Unreadable entries are reported through `onSkipped` and left out of the tree; the walk goes on.
 */
export class Archiver {
  readonly counts: ArchiveCounts = { filesNew: 0, filesChanged: 0, filesUnmodified: 0, dirsNew: 0, dirsChanged: 0, dirsUnmodified: 0 };
  private readonly chunking: FileChunking;
  private readonly minChunk: number;
  private readonly smallReads = new Semaphore(SMALL_FILE_READS);
  private readonly largeReads: Semaphore;
  /** Of them, the ones reading into a maximum chunk's buffer (files below the large-file threshold): one. */
  private readonly maximumChunkReads = new Semaphore(1);
  private readonly largeFileThreshold: number;
  /** Files from a minimum chunk up being read now, and the most at once (for tests). */
  private largeReadsNow = 0;
  private largeReadsMost = 0;
  /** Content of files with several hard links, by device and inode, so each is read once. */
  private readonly hardLinks = new Map<string, { node: TreeNode }>();
  private noAtime = true;
  private spareDirSlots = PARALLEL_DIRECTORIES;
  /** What ended the backup (a pack that could not be saved, an interruption): entries still queued stop at once. */
  private failure: Error | undefined;
  /**
   * The buffers of the reads of files from a minimum chunk up, kept idle between files: a maximum chunk's
   * (8 MiB) for a file below the large-file threshold, the large-file chunker's (2 MiB) for each of the
   * others read at once (one of each by default): the same few are reused all along. Sized to each file
   * and with 8 MiB kept, the second was dropped each time both came back and the next file allocated
   * another: 23 buffers of 8 MiB and more of 1–4 MiB in a scale-0.5 full backup, each garbage (and
   * resident) until the next full collection (PERFORMANCE.md, "the main thread's memory").
   */
  private readonly readBuffers: BufferPool;
  private readonly smallReadBuffers = new BufferPool(SMALL_READ_BYTES, undefined, SMALLEST_POOLED_READ);
  /**
   * The bytes of read buffers in use at once: one maximum chunk, the large-file chunker's maximum for each
   * other large-file read, and {@link SMALL_READ_BYTES} of small files' (14 MiB by default). Without it the
   * reads could hold 2 maximum chunks and 16 minimum ones (24 MiB by default); with room for two maximum
   * chunks (20 MiB, before) a scale-1 full backup peaked ~8 MiB higher.
   */
  private readonly readBudget: ByteBudget;

  constructor(
    private readonly repo: Repository,
    private readonly writer: RepositoryWriter,
    private readonly options: ArchiverOptions,
  ) {
    this.chunking = repo.createChunking();
    this.minChunk = repo.config.chunker.minSize;
    const maxChunk = sizeClass(repo.config.chunker.maxSize);
    const largeFileMaxChunk = repo.config.largeFiles ? sizeClass(repo.config.largeFiles.chunker.maxSize) : 0;
    this.largeFileThreshold = repo.config.largeFiles?.minFileSize ?? Number.POSITIVE_INFINITY;
    const largeFileReads = Math.max(1, options.largeFileReads ?? DEFAULT_LARGE_FILE_READS);
    this.largeReads = new Semaphore(largeFileReads);
    const largeBuffers = maxChunk + (largeFileReads - 1) * largeFileMaxChunk;
    this.readBuffers = new BufferPool(largeBuffers + largeFileMaxChunk);
    this.readBudget = new ByteBudget(largeBuffers + SMALL_READ_BYTES);
  }

  /** The most files from a minimum chunk up that were read at once so far (for tests). */
  get largeReadsAtOnce(): number {
    return this.largeReadsMost;
  }

  /** The most bytes of read buffers in use at once so far, and the budget that bounds them (for tests). */
  get readBytes(): { readonly most: number; readonly budget: number } {
    return { most: this.readBudget.peak, budget: this.readBudget.limit };
  }

  /**
   * Archives `paths` (absolute; nested duplicates are dropped) into a tree rooted at `/`, each path
   * under its full name. Returns the root tree id.
   */
  async archive(paths: readonly string[], parentTree: Id | undefined): Promise<Id> {
    const trie = new PathTrie(paths.map((p) => resolve(p)));
    if (!trie.isTarget) return this.archiveVirtual(trie, bytePath('/'), parentTree);
    // Backing up `/` itself: the root tree is the listing of `/`.
    const rootPath = bytePath('/');
    const xattrs = this.xattrsOf(rootPath, rootPath);
    const root = await this.archiveDir(rootPath, rootPath, bytePath('root'), await lstat('/', { bigint: true }), parentTree, xattrs);
    if (!root?.subtree) throw new Error('cannot read the root directory');
    return root.subtree;
  }

  /** A directory on the way to the backup paths: only the children that lead to them. */
  private async archiveVirtual(trie: PathTrie, path: Buffer, parentTree: Id | undefined): Promise<Id> {
    const parentNodes = await this.loadParentNodes(parentTree);
    const nodes: TreeNode[] = [];
    for (const [name, child] of trie.children()) {
      const childPath = joinBytePath(path, name);
      const previous = parentNodes?.get(name.toString('latin1'));
      let st: SourceStat;
      try {
        st = await lstat(childPath, { bigint: true });
      } catch (err) {
        this.skip(childPath, isErrno(err, 'ENOENT') ? new Error('it does not exist; the other sources are backed up') : err);
        continue;
      }
      if (child.isTarget) {
        const node = await this.archiveEntry(childPath, childPath, name, st, previous);
        if (node) nodes.push(node);
      } else if (st.isDirectory()) {
        const xattrs = this.xattrsOf(childPath, childPath);
        const subtree = await this.archiveVirtual(child, childPath, previous?.subtree);
        // Counted as restic counts the folders on the way to its sources (the root excepted).
        this.countDir(previous?.subtree, subtree);
        nodes.push(nodeFromStat(name, st, { subtree, xattrs }));
      } else {
        this.skip(childPath, new Error('not a directory'));
      }
    }
    return this.saveTree(nodes);
  }

  /**
   * `path` is the real path (for messages and excludes); `access` reaches the same entry (see DirHandle).
   * Returns `previous` itself when the entry is recorded exactly as before, which lets the directory
   * keep its tree (see archiveDirEntries).
   */
  private async archiveEntry(path: Buffer, access: Buffer, name: Buffer, st: SourceStat, previous: TreeNode | undefined, hasXattrs = true, dirFd?: number): Promise<TreeNode | undefined> {
    const node = await this.archiveEntryNode(path, access, name, st, previous, hasXattrs, dirFd);
    return previous !== undefined && node !== undefined && sameNode(node, previous) ? previous : node;
  }

  /**
   * `hasXattrs` false: the directory scan found the entry has no extended attributes. `dirFd`: the open
   * descriptor of the entry's folder, where the walk has one (a file is then opened by it and its name).
   */
  private async archiveEntryNode(path: Buffer, access: Buffer, name: Buffer, st: SourceStat, previous: TreeNode | undefined, hasXattrs: boolean, dirFd: number | undefined): Promise<TreeNode | undefined> {
    if (this.options.signal?.aborted) throw new InterruptedError('backup interrupted');
    if (!this.options.excludes.empty && (await this.options.excludes.excluded(path, st))) return undefined;
    this.options.progress.currentPath = path;
    // Read before the content: an attribute changed meanwhile changes the ctime, so the next backup looks again.
    const xattrs = hasXattrs ? this.xattrsOf(path, access) : [];
    switch (nodeTypeOf(st)) {
      case 'dir':
        return this.archiveDir(path, access, name, st, previous?.type === 'dir' ? previous.subtree : undefined, xattrs);
      case 'file':
        return this.archiveFile(path, { path: access, dirFd, name }, name, st, previous, xattrs);
      case 'symlink': {
        this.options.progress.filesDone++;
        try {
          return nodeFromStat(name, st, { linkTarget: await readlink(access, { encoding: 'buffer' }), xattrs });
        } catch (err) {
          this.skip(path, err);
          return undefined;
        }
      }
      default:
        this.options.progress.filesDone++;
        return nodeFromStat(name, st, { xattrs });
    }
  }

  /**
   * The entry's extended attributes (none with `noXattrs`). Ones that cannot be read are reported as
   * skipped, naming the attribute; the entry itself is still saved.
   */
  private xattrsOf(path: Buffer, access: Buffer): Xattr[] {
    if (this.options.noXattrs) return [];
    try {
      const { xattrs, failures } = readXattrs(access);
      for (const failure of failures) {
        this.skip(path, new Error(`extended attribute ${displayPath(failure.name)} not read: ${xattrFailureReason(failure, 'read')}`));
      }
      return xattrs;
    } catch (err) {
      this.skip(path, new Error(`extended attributes not read: ${xattrFailureReason({ name: Buffer.alloc(0), error: err }, 'read')}`));
      return [];
    }
  }

  /** `previousTree` is the directory's tree in the parent snapshot, if it was there. */
  private async archiveDir(path: Buffer, access: Buffer, name: Buffer, st: SourceStat, previousTree: Id | undefined, xattrs: Xattr[]): Promise<TreeNode | undefined> {
    let dir: DirHandle;
    try {
      dir = await DirHandle.open(access);
    } catch (err) {
      this.skip(path, err);
      return undefined;
    }
    this.options.progress.currentPath = path;
    try {
      // The parent's tree is loaded while the directory is scanned.
      const parentNodes = this.loadParentNodes(previousTree);
      let entries: SourceEntry[];
      try {
        entries = await this.readEntries(path, dir);
      } catch (err) {
        await parentNodes;
        this.skip(path, err);
        return undefined;
      }
      return await this.archiveDirEntries(path, entries, await parentNodes, name, st, previousTree, xattrs);
    } finally {
      await dir.close();
    }
  }

  /**
   * The directory's entries, sorted by name bytes, each looked at (`lstat`). Entries that cannot be looked
   * at are reported and left out. Through the directory scan of the native addon when the handle has a
   * descriptor (one thread-pool job per directory: names, `fstatat` of each and whether it has extended
   * attributes); else `readdir` and an `lstat` per entry.
   */
  private async readEntries(path: Buffer, dir: DirHandle): Promise<SourceEntry[]> {
    const entries: SourceEntry[] = [];
    if (dir.fd !== undefined) {
      for (const { name, st, hasXattrs } of await scanDirectory(dir.fd, !this.options.noXattrs)) {
        if (st) {
          entries.push(new SourceEntry(name, st, hasXattrs, path, dir));
          continue;
        }
        // A failed fstatat is asked again to get Node's error (or the entry, if it came back meanwhile).
        try {
          entries.push(new SourceEntry(name, lstatSync(dir.child(name), { bigint: true }), true, path, dir));
        } catch (err) {
          this.skip(joinBytePath(path, name), err);
        }
      }
      return entries;
    }
    const names = (await readdir(dir.path, { encoding: 'buffer' })).sort((a, b) => Buffer.compare(a, b));
    for (const name of names) {
      try {
        entries.push(new SourceEntry(name, await lstat(dir.child(name), { bigint: true }), true, path, dir));
      } catch (err) {
        this.skip(joinBytePath(path, name), err);
      }
    }
    return entries;
  }

  private async archiveDirEntries(path: Buffer, entries: SourceEntry[], parentNodes: Map<string, TreeNode> | undefined, name: Buffer, st: SourceStat, previousTree: Id | undefined, xattrs: Xattr[]): Promise<TreeNode> {
    const previousOf = (name: Buffer): TreeNode | undefined => parentNodes?.get(name.toString('latin1'));
    const nodes = new Array<TreeNode | undefined>(entries.length);
    let kept = 0;
    const archived = async (entry: SourceEntry, i: number): Promise<void> => {
      if (this.failure !== undefined) throw this.failure;
      const previous = previousOf(entry.name);
      try {
        nodes[i] = await this.archiveEntry(entry.path, entry.access, entry.name, entry.st, previous, entry.hasXattrs, entry.dirFd);
      } catch (err) {
        this.failure ??= err instanceof Error ? err : new Error(String(err));
        throw err;
      }
      if (previous !== undefined && nodes[i] === previous) kept++;
    };
    // Files first, several at once; then subdirectories one after another, which bounds concurrency.
    // Unchanged files are settled right here, without a promise each. Every entry's work ends before
    // this returns or throws: the caller then closes the directory, whose descriptor number the entries'
    // paths name (a later open through it would reach whatever reuses the number).
    const files: Promise<void>[] = [];
    try {
      for (const [i, entry] of entries.entries()) {
        if (entry.st.isDirectory()) continue;
        const previous = previousOf(entry.name);
        const unchanged = this.unchangedFile(entry, previous);
        if (unchanged) {
          nodes[i] = unchanged;
          kept++;
        } else {
          files.push(archived(entry, i));
        }
      }
    } catch (err) {
      // Interrupted: what already started ends first.
      this.failure ??= err instanceof Error ? err : new Error(String(err));
    }
    await settleAll(files);
    if (this.failure !== undefined) throw this.failure;
    // Subdirectories run side by side while spare slots last, else one after another: the walk's
    // latency chain shrinks, yet open directories stay bounded by the slots plus the tree depth.
    const running: Promise<void>[] = [];
    for (const [i, entry] of entries.entries()) {
      if (!entry.st.isDirectory()) continue;
      if (this.failure !== undefined) break;
      if (this.spareDirSlots > 0) {
        this.spareDirSlots--;
        running.push(archived(entry, i).finally(() => this.spareDirSlots++));
      } else {
        const work = archived(entry, i);
        running.push(work);
        await work.catch(() => undefined);
      }
    }
    await settleAll(running);
    const present = nodes.filter((n): n is TreeNode => n !== undefined);
    // Every entry recorded exactly as in the parent, and no other: the parent's tree is this directory's
    // tree, so it is not encoded, hashed and looked up again. (Its bytes may come from another encoder
    // version; they decode to the same nodes.)
    const unchanged = parentNodes !== undefined && kept === parentNodes.size && present.length === kept && this.writer.knows(previousTree!);
    const subtree = unchanged ? previousTree! : await this.saveTree(present);
    this.options.progress.dirsDone++;
    this.countDir(previousTree, subtree);
    return nodeFromStat(name, st, { subtree, xattrs });
  }

  /**
   * `previous` when `entry` is a file recorded in the parent exactly as it is now (the same metadata and,
   * since it did not change, the same content, all of it still stored) and without extended attributes,
   * after counting it; else undefined, and archiveEntry looks at it. Excludes and attributes are left to
   * archiveEntry, which needs a promise for them.
   */
  private unchangedFile(entry: SourceEntry, previous: TreeNode | undefined): TreeNode | undefined {
    const st = entry.st;
    if (entry.hasXattrs || previous?.xattrs !== undefined || !this.options.excludes.empty || !unchangedSince(previous, st)) return undefined;
    if (this.options.signal?.aborted) throw new InterruptedError('backup interrupted');
    if (!previous!.content!.every((id) => this.writer.knows(id))) return undefined;
    if (!sameNode(nodeFromStat(entry.name, st, { content: previous!.content! }), previous!)) return undefined;
    this.counts.filesUnmodified++;
    this.options.progress.filesDone++;
    this.options.progress.bytesDone += Number(st.size);
    return previous;
  }

  private countDir(previousTree: Id | undefined, subtree: Id): void {
    if (previousTree === undefined) this.counts.dirsNew++;
    else if (previousTree === subtree) this.counts.dirsUnmodified++;
    else this.counts.dirsChanged++;
  }

  private async archiveFile(path: Buffer, source: SourceLocation, name: Buffer, st: SourceStat, previous: TreeNode | undefined, xattrs: Xattr[]): Promise<TreeNode | undefined> {
    const progress = this.options.progress;
    if (unchangedSince(previous, st) && previous!.content!.every((id) => this.writer.knows(id))) {
      this.counts.filesUnmodified++;
      progress.filesDone++;
      progress.bytesDone += Number(st.size);
      return nodeFromStat(name, st, { content: previous!.content!, xattrs });
    }
    const linkKey = Number(st.nlink) > 1 ? `${st.dev}:${st.ino}` : undefined;
    const linked = linkKey ? this.hardLinks.get(linkKey) : undefined;
    if (linked && linked.node.size === Number(st.size) && linked.node.mtimeNs === st.mtimeNs) {
      progress.filesDone++;
      progress.bytesDone += Number(st.size);
      this.countFile(previous);
      return nodeFromStat(name, st, { content: linked.node.content!, size: linked.node.size, xattrs });
    }
    const large = Number(st.size) >= this.minChunk;
    // A file below the large-file chunker's threshold reads into a maximum chunk: one such at a time.
    const whole = large && Number(st.size) < this.largeFileThreshold;
    const read = async (): Promise<TreeNode | undefined> => {
      if (this.failure !== undefined) throw this.failure;
      if (large) this.largeReadsMost = Math.max(this.largeReadsMost, ++this.largeReadsNow);
      try {
        const { content, size } = await this.readContent(source, Number(st.size));
        return nodeFromStat(name, st, { content, size, xattrs });
      } catch (err) {
        if (err instanceof RepositoryWriteFailure) throw err.cause;
        this.skip(path, err);
        return undefined;
      } finally {
        if (large) this.largeReadsNow--;
      }
    };
    const node = await (large ? this.largeReads : this.smallReads).run(() => (whole ? this.maximumChunkReads.run(read) : read()));
    if (!node) return undefined;
    if (linkKey) this.hardLinks.set(linkKey, { node });
    this.countFile(previous);
    progress.filesDone++;
    return node;
  }

  private countFile(previous: TreeNode | undefined): void {
    if (previous?.type === 'file') this.counts.filesChanged++;
    else this.counts.filesNew++;
  }

  private async readContent(source: SourceLocation, expectedSize: number): Promise<{ content: Id[]; size: number }> {
    const file = await openSourceFile(source, this.noAtime ? SOURCE_OPEN_FLAGS_NOATIME : SOURCE_OPEN_FLAGS, (used) => {
      // O_NOATIME is refused for files we do not own unless privileged; stop asking.
      if (used === SOURCE_OPEN_FLAGS) this.noAtime = false;
    });
    try {
      // Ids come back from the encoder workers while the next chunks are read.
      const saves: Promise<SavedBlob>[] = [];
      let size = 0;
      for await (const chunk of readChunks(file, this.chunking.forFileSize(expectedSize), expectedSize, expectedSize < this.minChunk ? this.smallReadBuffers : this.readBuffers, this.readBudget)) {
        if (this.options.signal?.aborted) throw new InterruptedError('backup interrupted');
        size += chunk.length;
        this.options.progress.bytesDone += chunk.length;
        this.options.progress.bytesRead += chunk.length;
        const { saved } = await this.writer.put('data', chunk).catch(repositoryWriteFailed);
        // Handled below by Promise.all; meanwhile a failure must not count as unhandled.
        saved.catch(() => undefined);
        saves.push(saved);
      }
      return { content: (await Promise.all(saves).catch(repositoryWriteFailed)).map((blob) => blob.id), size };
    } finally {
      await file.close();
    }
  }

  private async saveTree(nodes: TreeNode[]): Promise<Id> {
    return (await this.writer.save('tree', encodeTree(nodes))).id;
  }

  /**
   * The parent snapshot's nodes of a directory by name (latin1 keys are a lossless byte encoding);
   * undefined when there is no parent tree or it cannot be read.
   */
  private async loadParentNodes(tree: Id | undefined): Promise<Map<string, TreeNode> | undefined> {
    if (!tree) return undefined;
    try {
      const byName = new Map<string, TreeNode>();
      for (const node of decodeTree(await this.repo.loadBlob('tree', tree))) byName.set(node.name.toString('latin1'), node);
      return byName;
    } catch {
      // A damaged parent only costs re-reading the files; the new snapshot does not depend on it.
      return undefined;
    }
  }

  private skip(path: Buffer, err: unknown): void {
    if (err instanceof InterruptedError) throw err;
    if (this.failure !== undefined) throw this.failure;
    // Once interrupted, the directories other reads go through are being closed: their failures are
    // the interruption, not unreadable sources.
    if (this.options.signal?.aborted) throw new InterruptedError('backup interrupted', { cause: err });
    this.options.progress.errors++;
    // The entry is named by its real path; Node's message would name the handle path it was reached by.
    this.options.onSkipped({ path: displayPath(path), error: describeError(err), pathBytes: path });
  }
}

/**
 * A directory entry that was looked at: its lstat, its real path and the path it is reached by (see
 * DirHandle), both made when first asked for (an unchanged file needs neither). `access` is usable while
 * the directory is open.
 */
class SourceEntry {
  private pathBytes: Buffer | undefined;
  private accessBytes: Buffer | undefined;

  constructor(
    readonly name: Buffer,
    readonly st: SourceStat,
    /** False when the directory scan found no extended attributes on it. */
    readonly hasXattrs: boolean,
    private readonly dirPath: Buffer,
    private readonly dir: DirHandle,
  ) {}

  get path(): Buffer {
    return (this.pathBytes ??= joinBytePath(this.dirPath, this.name));
  }

  get access(): Buffer {
    return (this.accessBytes ??= this.dir.child(this.name));
  }

  /** The open descriptor of the entry's folder (undefined without /proc, where DirHandle keeps none). */
  get dirFd(): number | undefined {
    return this.dir.fd;
  }
}

/**
 * A failure of the repository writer (a pack that could not be saved) met while reading a file: it ends
 * the backup instead of being reported as an unreadable source.
 */
class RepositoryWriteFailure extends Error {}

/** Waits until every promise has settled, then throws the first rejection, if any. */
async function settleAll(promises: readonly Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(promises)).find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

function repositoryWriteFailed(err: unknown): never {
  throw new RepositoryWriteFailure('the repository writer failed', { cause: err });
}
