import { withContext } from '../../core/errors.js';
import { shortId, type Id } from '../../core/ids.js';
import { objectKey, folderOf, idOfKey } from '../../storage/layout.js';
import { ContentHasher } from '../crypto/content-id.js';
import { sha256Id } from '../crypto/sha256.js';
import { BlobCodec } from '../pack/blob-codec.js';
import { openPackHeader } from '../pack/pack-format.js';
import type { Repository } from '../repository/repository.js';
import { decodeTree } from '../snapshot/tree-format.js';

export interface CheckOptions {
  /** Read and verify every indexed pack. */
  readonly readData: boolean;
  /** Read and verify only this subset of the indexed packs (implies reading data); see {@link selectPacks}. */
  readonly readSubset?: PackSubset;
  /** Randomness for a percentage subset, in [0, 1); defaults to Math.random. */
  readonly random?: () => number;
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * Which packs `check` reads: `part` n of t splits the pack id space into t equal ranges and takes the
 * n-th (1-based), so the t parts cover every pack exactly once and a pack's part never changes as the
 * repository grows; `percent` is a random sample of that share of the packs, rounded up.
 */
export type PackSubset = { readonly kind: 'part'; readonly n: number; readonly of: number } | { readonly kind: 'percent'; readonly percent: number };

/** A damaged or missing pack, with the snapshots that reference its blobs. */
export interface PackProblem {
  readonly packId: Id;
  readonly problem: string;
  readonly snapshots: Id[];
}

export interface CheckReport {
  readonly errors: string[];
  readonly warnings: string[];
  readonly packProblems: PackProblem[];
  readonly snapshotsChecked: number;
  readonly packsChecked: number;
  /** Packs downloaded and verified (all indexed packs with `readData`, the subset's with `readSubset`). */
  readonly packsRead: number;
}

/**
 * Verifies the repository's structure: every index entry points into an existing pack of the right
 * size, and every snapshot's trees and content resolve through the index. With `readData`, every pack
 * is read, hashed, its header compared with the index and every blob authenticated and rehashed; with
 * `readSubset`, only the packs of that subset (those already found missing or of the wrong size are not read).
 * Problems are collected, not thrown; the report names each bad pack with the snapshots it affects.
 */
export async function checkRepository(repo: Repository, options: CheckOptions): Promise<CheckReport> {
  const errors: string[] = [];
  const warnings: string[] = [];
  const badPacks = new Map<Id, string>();

  await repo.loadIndex().catch((err: unknown) => {
    errors.push(`index: ${(err as Error).message}`);
  });
  const stored = new Map<Id, number>();
  await repo.storage.list(folderOf('pack'), (info) => {
    const id = idOfKey('pack', info.key);
    if (id) stored.set(id, info.size);
  });
  for (const [packId, expected] of repo.index.packs()) {
    const size = stored.get(packId);
    if (size === undefined) badPacks.set(packId, 'is missing');
    else if (size !== expected) badPacks.set(packId, `has ${size} bytes, the index says ${expected}`);
  }
  for (const packId of stored.keys()) {
    if (!repo.index.hasPack(packId)) warnings.push(`pack ${shortId(packId)} is not in the index (left by an interrupted backup; harmless)`);
  }

  let packsRead = 0;
  if (options.readData || options.readSubset) {
    const indexed = [...repo.index.packs().keys()];
    const selected = options.readSubset ? selectPacks(indexed, options.readSubset, options.random ?? Math.random) : indexed;
    const packs = selected.filter((id) => !badPacks.has(id));
    const verifier = new PackVerifier(repo);
    for (const packId of packs) {
      const problem = await verifier.verify(packId);
      if (problem) badPacks.set(packId, problem);
      packsRead++;
      options.onProgress?.(packsRead, packs.length);
    }
  }

  const affected = new Map<Id, Set<Id>>();
  const snapshots = await repo.listSnapshots().catch((err: unknown) => {
    errors.push(`snapshots: ${(err as Error).message}`);
    return [];
  });
  const treeState = new Map<Id, Set<Id>>();
  for (const { id: snapshotId, snapshot } of snapshots) {
    const touched = await packsReachedFrom(repo, snapshot.tree, treeState, errors, snapshotId, badPacks);
    for (const packId of touched) {
      if (!affected.has(packId)) affected.set(packId, new Set());
      affected.get(packId)!.add(snapshotId);
    }
  }
  const packProblems = [...badPacks].map(([packId, problem]) => ({ packId, problem, snapshots: [...(affected.get(packId) ?? [])] }));
  for (const p of packProblems) {
    const who = p.snapshots.length > 0 ? `affects snapshots ${p.snapshots.map(shortId).join(', ')}` : 'no snapshot references it';
    errors.push(`pack ${p.packId} ${p.problem}; ${who}`);
  }
  return { errors, warnings, packProblems, snapshotsChecked: snapshots.length, packsChecked: repo.index.packs().size, packsRead };
}

/**
 * The packs of `subset` among `packIds`, sorted by id. `part` is deterministic (see {@link PackSubset});
 * `percent` draws `ceil(percent / 100 × packs)` packs with `random`.
 */
export function selectPacks(packIds: readonly Id[], subset: PackSubset, random: () => number): Id[] {
  if (subset.kind === 'part') {
    const of = BigInt(subset.of);
    const wanted = BigInt(subset.n - 1);
    // The first 64 bits of the id, scaled to [0, of): the part whose range of the id space holds it.
    return packIds.filter((id) => (BigInt(`0x${id.slice(0, 16)}`) * of) >> 64n === wanted).sort();
  }
  const pool = [...packIds];
  // The epsilon keeps float noise (30 × 10 / 100 = 3.0000000000000004) from rounding up a whole pack.
  const count = Math.min(pool.length, Math.ceil((pool.length * subset.percent) / 100 - 1e-9));
  for (let i = 0; i < count; i++) {
    const j = Math.min(pool.length - 1, i + Math.floor(random() * (pool.length - i)));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, count).sort();
}

/**
 * The bad packs a tree's blobs live in (recursively). Trees are visited once across snapshots;
 * `memo` keeps each tree's answer. Blobs missing from the index are reported in `errors`.
 */
async function packsReachedFrom(
  repo: Repository,
  tree: Id,
  memo: Map<Id, Set<Id>>,
  errors: string[],
  snapshotId: Id,
  badPacks: ReadonlyMap<Id, string>,
): Promise<Set<Id>> {
  const known = memo.get(tree);
  if (known) return known;
  const result = new Set<Id>();
  memo.set(tree, result);
  const location = repo.index.find('tree', tree);
  if (!location) {
    errors.push(`snapshot ${shortId(snapshotId)}: tree ${shortId(tree)} is not in the index`);
    return result;
  }
  if (badPacks.has(location.packId)) {
    result.add(location.packId);
    return result;
  }
  let nodes;
  try {
    nodes = decodeTree(await repo.loadBlob('tree', tree));
  } catch (err) {
    errors.push(`snapshot ${shortId(snapshotId)}: ${withContext(`tree ${shortId(tree)}`, err).message}`);
    return result;
  }
  for (const node of nodes) {
    for (const id of node.content ?? []) {
      const blob = repo.index.find('data', id);
      if (!blob) errors.push(`snapshot ${shortId(snapshotId)}: data blob ${shortId(id)} of ${node.name.toString()} is not in the index`);
      else if (badPacks.has(blob.packId)) result.add(blob.packId);
    }
    if (node.subtree) for (const packId of await packsReachedFrom(repo, node.subtree, memo, errors, snapshotId, badPacks)) result.add(packId);
  }
  return result;
}

/** Reads one pack and checks it end to end; returns what is wrong, or undefined. */
class PackVerifier {
  private readonly codec: BlobCodec;
  private readonly hasher: ContentHasher;

  constructor(private readonly repo: Repository) {
    this.codec = new BlobCodec(repo.key.encryptionKey);
    this.hasher = new ContentHasher(repo.key.contentIdKey);
  }

  async verify(packId: Id): Promise<string | undefined> {
    let bytes: Buffer;
    try {
      bytes = await this.repo.storage.load(objectKey('pack', packId));
    } catch (err) {
      return `cannot be read: ${(err as Error).message}`;
    }
    if (sha256Id(bytes) !== packId) return 'is damaged: its bytes do not match its name';
    try {
      const entries = openPackHeader(this.repo.key.encryptionKey, bytes);
      for (const entry of entries) {
        const indexed = this.repo.index.lookup(entry.id);
        const disagrees = indexed && (indexed.offset !== entry.offset || indexed.length !== entry.length || indexed.type !== entry.type || indexed.compression !== entry.compression || indexed.rawLength !== entry.rawLength);
        if (indexed?.packId === packId && disagrees) {
          return `header disagrees with the index for blob ${shortId(entry.id)}`;
        }
        const plain = this.codec.decode(entry.type, entry.id, bytes.subarray(entry.offset, entry.offset + entry.length), entry.compression, entry.rawLength);
        if (this.hasher.idOf(entry.type, plain) !== entry.id) return `blob ${shortId(entry.id)} does not hash to its id`;
      }
    } catch (err) {
      return `is damaged: ${(err as Error).message}`;
    }
    return undefined;
  }
}
