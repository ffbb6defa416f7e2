import { shortId, type Id } from '../../core/ids.js';
import { ContentHasher } from '../crypto/content-id.js';
import type { Repository } from '../repository/repository.js';
import { decodeTree, encodeTree, type TreeNode } from '../snapshot/tree-format.js';
import type { BlobHealth } from './blob-health.js';

/** Something a repaired tree no longer holds: its path below the tree (name bytes per level) and why. */
export interface LostItem {
  readonly segments: readonly Buffer[];
  readonly reason: string;
}

/** The result of salvaging a tree: `tree` is the original id when `lost` is empty. */
export type Salvage = { readonly ok: true; readonly tree: Id; readonly lost: readonly LostItem[] } | { readonly ok: false; readonly reason: string };

/**
 * Rewrites trees without what can no longer be read, for `ferry repair snapshots`:
 * - a file whose content names a missing or damaged data blob is left out (and listed);
 * - a directory whose tree cannot be read becomes an empty directory with its metadata (and is listed);
 * - a tree with nothing lost below it keeps its id, so undamaged parts are shared with the original.
 *
 * New trees are not stored here: their encoded bytes are collected in {@link newTrees}, keyed by the
 * id a writer will give them, so a dry run stores nothing and a real run saves them all before any
 * snapshot names them. Results are memoized per tree id, so trees shared by snapshots are read once.
 * Not safe for concurrent calls on one instance.
 */
export class TreeSalvager {
  /** Encoded trees the salvaged snapshots need that the repository may not have, by tree id. */
  readonly newTrees = new Map<Id, Buffer>();
  private readonly memo = new Map<Id, Salvage>();
  private readonly hasher: ContentHasher;
  private emptyTree: Id | undefined;

  constructor(
    private readonly repo: Repository,
    private readonly health: BlobHealth,
  ) {
    this.hasher = new ContentHasher(repo.key.contentIdKey);
  }

  /** Salvages the tree `id`; `ok: false` when the tree itself cannot be read. Never throws for damage. */
  async salvage(id: Id): Promise<Salvage> {
    const known = this.memo.get(id);
    if (known) return known;
    const result = await this.rewrite(id);
    this.memo.set(id, result);
    return result;
  }

  private async rewrite(id: Id): Promise<Salvage> {
    const unusable = await this.health.problem('tree', id);
    if (unusable) return { ok: false, reason: unusable };
    let nodes: TreeNode[];
    try {
      nodes = decodeTree(await this.repo.loadBlob('tree', id));
    } catch (err) {
      this.health.markBad(id);
      return { ok: false, reason: `tree ${shortId(id)} cannot be read: ${(err as Error).message}` };
    }
    const kept: TreeNode[] = [];
    const lost: LostItem[] = [];
    for (const node of nodes) {
      if (node.type === 'file') {
        const reason = await this.contentProblem(node.content ?? []);
        if (reason) lost.push({ segments: [node.name], reason });
        else kept.push(node);
      } else if (node.type === 'dir') {
        const below = await this.salvage(node.subtree!);
        if (!below.ok) {
          lost.push({ segments: [node.name], reason: below.reason });
          kept.push({ ...node, subtree: this.empty() });
        } else {
          for (const item of below.lost) lost.push({ segments: [node.name, ...item.segments], reason: item.reason });
          kept.push(below.tree === node.subtree ? node : { ...node, subtree: below.tree });
        }
      } else {
        kept.push(node);
      }
    }
    if (lost.length === 0) return { ok: true, tree: id, lost };
    return { ok: true, tree: this.add(encodeTree(kept)), lost };
  }

  /** The first reason a file's content cannot be read, or undefined. */
  private async contentProblem(content: readonly Id[]): Promise<string | undefined> {
    for (const blob of content) {
      const reason = await this.health.problem('data', blob);
      if (reason) return reason;
    }
    return undefined;
  }

  private empty(): Id {
    this.emptyTree ??= this.add(encodeTree([]));
    return this.emptyTree;
  }

  private add(bytes: Buffer): Id {
    const id = this.hasher.idOf('tree', bytes);
    this.newTrees.set(id, bytes);
    return id;
  }
}
