import { InterruptedError } from '../../core/errors.js';
import type { Id } from '../../core/ids.js';
import { SEAL_OVERHEAD } from '../crypto/aead.js';
import { Compression } from '../compress/zstd.js';
import { joinBytePath } from '../fs/byte-path.js';
import type { BlobType } from '../pack/pack-format.js';
import type { TreeNode } from '../snapshot/tree-format.js';
import { BlobSet } from './blob-set.js';
import { loadTree, type TreeSource, type UnreadableTree } from './tree-source.js';
import type { StatsMode } from './stats-modes.js';

// The modes live apart so that the CLI can list them without loading the engine.
export { STATS_MODES, type StatsMode } from './stats-modes.js';

export interface SnapshotStats {
  readonly mode: StatsMode;
  readonly snapshotsCount: number;
  /** Bytes as the mode counts them (file sizes, or bytes in packs). */
  readonly totalSize: number;
  /** Not counted in `raw-data`. */
  readonly totalFileCount: number;
  /** Counted in `raw-data` and `blobs-per-file` only. */
  readonly totalBlobCount: number;
  /** `raw-data`: what the blobs would occupy stored without compression (plaintext plus sealing), as restic counts it. */
  readonly totalUncompressedSize?: number;
  /** `raw-data`: uncompressed size of the compressed blobs over what they occupy (restic's compression ratio). */
  readonly compressionRatio?: number;
  /** `raw-data`: percent of the uncompressed size that is in compressed blobs. */
  readonly compressionProgress?: number;
  /** `raw-data`: percent saved by compression. */
  readonly compressionSpaceSaving?: number;
}

export interface StatsOptions {
  /** A folder whose tree cannot be read: its entries are not counted, the rest goes on. */
  readonly onUnreadableTree: (problem: UnreadableTree) => void;
  /** A blob the trees name but the index does not list: counted without bytes. */
  readonly onUnindexedBlob?: (type: BlobType, id: Id) => void;
  readonly signal?: AbortSignal;
}

/**
 * Counts the snapshots whose root trees are `trees` in `mode`, with restic's rules for each mode (see
 * {@link StatsMode}). Sizes of files are those the snapshots record; `blobs-per-file` counts blobs'
 * plaintext bytes and `raw-data` their bytes in packs, which differ from restic's for the same data
 * (another pack format, compressor and chunker). Reads only.
 */
export async function snapshotStats(source: TreeSource, trees: readonly Id[], mode: StatsMode, options: StatsOptions): Promise<SnapshotStats> {
  const counter = new StatsCounter(source, mode, options);
  for (const tree of trees) await counter.addSnapshot(tree);
  return counter.result(trees.length);
}

const ROOT = Buffer.from('/');

class StatsCounter {
  private totalSize = 0;
  private totalFileCount = 0;
  private totalBlobCount = 0;
  /** files-by-contents, blobs-per-file: the content lists seen. */
  private readonly contents = new Set<string>();
  /** blobs-per-file: for each path (latin1 of its bytes), the blobs counted for it. */
  private readonly fileBlobs = new Map<string, Set<Id>>();
  /** raw-data: the distinct blobs. */
  private readonly blobs = new BlobSet();
  /** restore-size: the hard-linked inodes of the current snapshot already counted. */
  private linked = new Set<string>();

  constructor(
    private readonly source: TreeSource,
    private readonly mode: StatsMode,
    private readonly options: StatsOptions,
  ) {}

  async addSnapshot(tree: Id): Promise<void> {
    this.linked = new Set();
    if (this.mode === 'raw-data') {
      this.blobs.add('tree', tree);
      await this.collectBlobs(ROOT, tree);
    } else {
      await this.walk(ROOT, tree);
    }
  }

  result(snapshotsCount: number): SnapshotStats {
    const base = { mode: this.mode, snapshotsCount, totalFileCount: this.totalFileCount };
    if (this.mode !== 'raw-data') return { ...base, totalSize: this.totalSize, totalBlobCount: this.totalBlobCount };
    let size = 0;
    let uncompressed = 0;
    let compressedSize = 0;
    let compressedUncompressed = 0;
    for (const { type, id } of this.blobs.values()) {
      const location = this.source.index.find(type, id);
      if (!location) {
        this.options.onUnindexedBlob?.(type, id);
        continue;
      }
      size += location.length;
      const plain = location.rawLength + SEAL_OVERHEAD;
      uncompressed += plain;
      if (location.compression !== Compression.None) {
        compressedSize += location.length;
        compressedUncompressed += plain;
      }
    }
    return {
      ...base,
      totalSize: size,
      totalBlobCount: this.blobs.size,
      totalUncompressedSize: uncompressed,
      ...(compressedSize > 0 ? { compressionRatio: compressedUncompressed / compressedSize } : {}),
      ...(uncompressed > 0 ? { compressionProgress: (compressedUncompressed / uncompressed) * 100, compressionSpaceSaving: (1 - size / uncompressed) * 100 } : {}),
    };
  }

  private async walk(dir: Buffer, tree: Id): Promise<void> {
    for (const node of (await this.load(dir, tree)) ?? []) {
      this.checkSignal();
      const path = joinBytePath(dir, node.name);
      this.count(node, path);
      if (node.type === 'dir') await this.walk(path, node.subtree!);
    }
  }

  private count(node: TreeNode, path: Buffer): void {
    // restic records a size for regular files only; Ferry's symlinks carry their target's length.
    const size = node.type === 'file' ? node.size : 0;
    if (this.mode === 'restore-size') {
      this.totalFileCount++;
      if (node.links <= 1 || node.type === 'dir') {
        this.totalSize += size;
        return;
      }
      const inode = `${node.device}:${node.inode}`;
      if (!this.linked.has(inode) || node.inode === 0n) {
        this.linked.add(inode);
        this.totalSize += size;
      }
      return;
    }
    const key = (node.content ?? []).join(',');
    if (this.contents.has(key)) return;
    this.contents.add(key);
    if (this.mode === 'files-by-contents') {
      this.totalSize += size;
      this.totalFileCount++;
      return;
    }
    const pathKey = path.toString('latin1');
    for (const id of node.content ?? []) {
      let seen = this.fileBlobs.get(pathKey);
      if (!seen) {
        seen = new Set();
        this.fileBlobs.set(pathKey, seen);
        this.totalFileCount++;
      }
      if (seen.has(id)) continue;
      seen.add(id);
      this.totalBlobCount++;
      const location = this.source.index.find('data', id);
      if (location) this.totalSize += location.rawLength;
      else this.options.onUnindexedBlob?.('data', id);
    }
  }

  /** Every blob below `tree`; a subtree seen before (in this or an earlier snapshot) is not walked again. */
  private async collectBlobs(dir: Buffer, tree: Id): Promise<void> {
    for (const node of (await this.load(dir, tree)) ?? []) {
      this.checkSignal();
      if (node.type === 'file') {
        for (const id of node.content ?? []) this.blobs.add('data', id);
      } else if (node.type === 'dir') {
        if (this.blobs.has('tree', node.subtree!)) continue;
        this.blobs.add('tree', node.subtree!);
        await this.collectBlobs(joinBytePath(dir, node.name), node.subtree!);
      }
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
    if (this.options.signal?.aborted) throw new InterruptedError('stats interrupted');
  }
}
