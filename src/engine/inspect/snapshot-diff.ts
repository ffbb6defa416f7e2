import { InterruptedError } from '../../core/errors.js';
import type { Id } from '../../core/ids.js';
import { joinBytePath } from '../fs/byte-path.js';
import type { BlobType } from '../pack/pack-format.js';
import { sameMetadata } from '../snapshot/node-equality.js';
import type { TreeNode } from '../snapshot/tree-format.js';
import { BlobSet } from './blob-set.js';
import { loadTree, type TreeSource, type UnreadableTree } from './tree-source.js';

/**
 * One changed entry, as restic's `diff` prints it: `+` added, `-` removed, `M` content modified, `T` type
 * changed, `U` metadata only (with `metadata`), `?` content changed while every other field is equal
 * (the data changed without the file being written to: bit rot, or a backup made with faked times).
 * Modifiers combine (`TU`, `M?`).
 */
export interface TreeChange {
  /** The entry's path below the compared folders, raw bytes, starting with `/`. */
  readonly path: Buffer;
  /** The entry is a folder (in the newer tree, or in the older one when removed): printed with a trailing `/`. */
  readonly isDir: boolean;
  readonly modifier: string;
}

/** Entries and blobs on one side of a comparison. */
export interface DiffCounts {
  files: number;
  dirs: number;
  /** Symlinks, FIFOs, sockets, devices. */
  others: number;
  dataBlobs: number;
  treeBlobs: number;
  /** Plaintext bytes of the counted blobs (before compression and sealing), as restic counts them. */
  bytes: number;
}

export interface DiffSummary {
  /** Files present on both sides whose content differs. */
  readonly changedFiles: number;
  readonly added: DiffCounts;
  readonly removed: DiffCounts;
}

export interface DiffOptions {
  /** Report entries whose metadata alone changed (`U`). */
  readonly metadata?: boolean;
  /** Called for each change, in path order (folders before what they hold). */
  readonly onChange: (change: TreeChange) => void;
  /** A folder whose tree cannot be read: its entries are left out of the comparison, the rest goes on. */
  readonly onUnreadableTree: (problem: UnreadableTree) => void;
  /** A blob the trees name but the index does not list: it is counted, without bytes. */
  readonly onUnindexedBlob?: (type: BlobType, id: Id) => void;
  readonly signal?: AbortSignal;
}

const ROOT = Buffer.from('/');

const emptyCounts = (): DiffCounts => ({ files: 0, dirs: 0, others: 0, dataBlobs: 0, treeBlobs: 0, bytes: 0 });

/**
 * Compares the tree `before` with the tree `after`, as restic's `diff` does: changes are reported through
 * `onChange` and the summary counts entries added, removed and changed, and the blobs only one side uses
 * (what a `forget` of the older snapshot would free, what the newer one added). Unchanged subtrees (same
 * tree id) are not compared again. Unlike restic, a folder that replaced a file (or the reverse) also
 * lists what it holds as added (removed): restic shows only the `T` line and leaves them uncounted.
 * Reads only; throws `InterruptedError` when `signal` aborts.
 */
export async function diffTrees(source: TreeSource, before: Id, after: Id, options: DiffOptions): Promise<DiffSummary> {
  return new TreeComparison(source, options).run(before, after);
}

class TreeComparison {
  private readonly blobsBefore = new BlobSet();
  private readonly blobsAfter = new BlobSet();
  /** Blobs of subtrees both sides share unchanged: neither added nor removed, even when also used elsewhere. */
  private readonly blobsCommon = new BlobSet();
  private readonly added = emptyCounts();
  private readonly removed = emptyCounts();
  private changedFiles = 0;

  constructor(
    private readonly source: TreeSource,
    private readonly options: DiffOptions,
  ) {}

  async run(before: Id, after: Id): Promise<DiffSummary> {
    // The same tree: nothing changed, and nothing needs reading.
    if (before === after) return { changedFiles: 0, added: this.added, removed: this.removed };
    this.blobsBefore.add('tree', before);
    this.blobsAfter.add('tree', after);
    await this.compare(ROOT, before, after);
    this.countBlobs(this.blobsBefore, this.blobsAfter, this.removed);
    this.countBlobs(this.blobsAfter, this.blobsBefore, this.added);
    return { changedFiles: this.changedFiles, added: this.added, removed: this.removed };
  }

  private async compare(dir: Buffer, before: Id, after: Id): Promise<void> {
    const older = await this.load(dir, before);
    const newer = await this.load(dir, after);
    if (!older || !newer) return;
    let i = 0;
    let j = 0;
    while (i < older.length || j < newer.length) {
      this.checkSignal();
      const order = i >= older.length ? 1 : j >= newer.length ? -1 : Buffer.compare(older[i]!.name, newer[j]!.name);
      const node1 = order <= 0 ? older[i++] : undefined;
      const node2 = order >= 0 ? newer[j++] : undefined;
      addBlobs(this.blobsBefore, node1);
      addBlobs(this.blobsAfter, node2);
      if (node1 && node2) await this.compareNodes(dir, node1, node2);
      else if (node1) await this.listSide(dir, node1, '-', this.removed, this.blobsBefore);
      else await this.listSide(dir, node2!, '+', this.added, this.blobsAfter);
    }
  }

  private async compareNodes(dir: Buffer, node1: TreeNode, node2: TreeNode): Promise<void> {
    const path = joinBytePath(dir, node2.name);
    let modifier = node1.type !== node2.type ? 'T' : '';
    if (node1.type === 'file' && node2.type === 'file' && !sameIds(node1.content, node2.content)) {
      modifier += 'M';
      this.changedFiles++;
      if (sameMetadata(node1, node2)) modifier += '?';
    } else if (this.options.metadata && !(sameMetadata(node1, node2) && sameIds(node1.content, node2.content))) {
      modifier += 'U';
    }
    if (modifier !== '') this.options.onChange({ path, isDir: node2.type === 'dir', modifier });
    if (node1.type === 'dir' && node2.type === 'dir') {
      if (node1.subtree === node2.subtree) await this.collect(path, node1.subtree!);
      else await this.compare(path, node1.subtree!, node2.subtree!);
    } else if (node1.type === 'dir') {
      await this.listTree(path, node1.subtree!, '-', this.removed, this.blobsBefore);
    } else if (node2.type === 'dir') {
      await this.listTree(path, node2.subtree!, '+', this.added, this.blobsAfter);
    }
  }

  /** An entry only one side has, and when it is a folder everything below it. */
  private async listSide(dir: Buffer, node: TreeNode, modifier: '+' | '-', counts: DiffCounts, blobs: BlobSet): Promise<void> {
    const path = joinBytePath(dir, node.name);
    this.options.onChange({ path, isDir: node.type === 'dir', modifier });
    countNode(counts, node);
    if (node.type === 'dir') await this.listTree(path, node.subtree!, modifier, counts, blobs);
  }

  private async listTree(dir: Buffer, tree: Id, modifier: '+' | '-', counts: DiffCounts, blobs: BlobSet): Promise<void> {
    for (const node of (await this.load(dir, tree)) ?? []) {
      this.checkSignal();
      addBlobs(blobs, node);
      await this.listSide(dir, node, modifier, counts, blobs);
    }
  }

  /** The blobs of a subtree both sides share; a subtree seen before is not walked again. */
  private async collect(dir: Buffer, tree: Id): Promise<void> {
    for (const node of (await this.load(dir, tree)) ?? []) {
      this.checkSignal();
      if (node.type === 'dir') {
        if (this.blobsCommon.has('tree', node.subtree!)) continue;
        this.blobsCommon.add('tree', node.subtree!);
        await this.collect(joinBytePath(dir, node.name), node.subtree!);
      } else {
        addBlobs(this.blobsCommon, node);
      }
    }
  }

  /** Counts the blobs of `side` that neither `other` nor the shared subtrees use. */
  private countBlobs(side: BlobSet, other: BlobSet, counts: DiffCounts): void {
    for (const { type, id } of side.values()) {
      if (other.has(type, id) || this.blobsCommon.has(type, id)) continue;
      if (type === 'tree') counts.treeBlobs++;
      else counts.dataBlobs++;
      const location = this.source.index.find(type, id);
      if (location) counts.bytes += location.rawLength;
      else this.options.onUnindexedBlob?.(type, id);
    }
  }

  private async load(dir: Buffer, tree: Id): Promise<TreeNode[] | undefined> {
    try {
      return await loadTree(this.source, tree);
    } catch (err) {
      this.checkSignal();
      this.options.onUnreadableTree({ path: dir, error: err instanceof Error ? err : new Error(String(err)) });
      return undefined;
    }
  }

  private checkSignal(): void {
    if (this.options.signal?.aborted) throw new InterruptedError('diff interrupted');
  }
}

function addBlobs(set: BlobSet, node: TreeNode | undefined): void {
  if (node?.type === 'file') for (const id of node.content ?? []) set.add('data', id);
  else if (node?.type === 'dir') set.add('tree', node.subtree!);
}

function countNode(counts: DiffCounts, node: TreeNode): void {
  if (node.type === 'file') counts.files++;
  else if (node.type === 'dir') counts.dirs++;
  else counts.others++;
}

function sameIds(a: readonly Id[] | undefined, b: readonly Id[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((id, i) => id === y[i]);
}

