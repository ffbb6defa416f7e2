import { forEachLimit } from '../../core/concurrency.js';
import { NotFoundError, withContext } from '../../core/errors.js';
import { shortId, type Id } from '../../core/ids.js';
import { objectKey, folderOf, idOfKey } from '../../storage/layout.js';
import { ContentHasher } from '../crypto/content-id.js';
import { sha256Id } from '../crypto/sha256.js';
import { BlobCodec } from '../pack/blob-codec.js';
import { displayPath } from '../fs/byte-path.js';
import type { UnreadableIndexFile } from '../index/index-set.js';
import { MasterIndex } from '../index/master-index.js';
import { openPackHeader, type PackedBlob } from '../pack/pack-format.js';
import { readPackHeader } from '../repair/pack-header-reader.js';
import { BlobReader } from '../repository/blob-reader.js';
import type { Repository, UnreadableSnapshot } from '../repository/repository.js';
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
  /** Snapshot files that do not open (each is also one of `errors`). */
  readonly unreadableSnapshots: UnreadableSnapshot[];
  /** Index files in effect that do not open; the check went on without them (each is also one of `errors`). */
  readonly unreadableIndexFiles: UnreadableIndexFile[];
  /** Snapshot files looked at, readable or not. */
  readonly snapshotsChecked: number;
  readonly packsChecked: number;
  /** Packs downloaded and verified (all indexed packs with `readData`, the subset's with `readSubset`). */
  readonly packsRead: number;
}

/** Header reads of unindexed packs at once. */
const HEADER_READS = 8;

/**
 * Verifies the repository's structure: every index entry points into an existing pack of the right
 * size, and every snapshot's trees and content resolve through the index. With `readData`, every pack
 * is read, hashed, its header compared with the index and every blob authenticated and rehashed; with
 * `readSubset`, only the packs of that subset (those already found missing or of the wrong size are not read).
 *
 * One damaged object never hides the others: an index file or snapshot file that does not open is
 * reported and the check goes on without it. The header of every pack no index file names is read
 * (two small ranged reads), so such a pack is told apart: one holding blobs a snapshot needs (its
 * index file is lost or damaged: an error, `ferry repair index` finds the data again) from a leftover
 * of an interrupted backup that nothing needs (a warning).
 * Problems are collected, not thrown; the report names each bad pack with the snapshots it affects.
 */
export async function checkRepository(repo: Repository, options: CheckOptions): Promise<CheckReport> {
  const errors: string[] = [];
  const warnings: string[] = [];
  const badPacks = new Map<Id, string>();

  const unreadableIndexFiles = await repo.loadReadableIndex();
  for (const { id, error } of unreadableIndexFiles) {
    errors.push(
      `index file ${objectKey('index', id)} cannot be read (${error.message}): run \`ferry repair index\`, which rebuilds the index from the packs (nothing is lost: the packs still hold the data)`,
    );
  }
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
  const unindexed = await readUnindexedPacks(repo, [...stored].filter(([packId]) => !repo.index.hasPack(packId)));

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

  const { snapshots, unreadable: unreadableSnapshots } = await repo.readSnapshots();
  for (const { id, error } of unreadableSnapshots) {
    errors.push(`snapshot file ${objectKey('snapshot', id)} cannot be read (${error.message}): remove it with \`ferry forget ${id}\` or \`ferry repair snapshots --forget\``);
  }
  const walker = new SnapshotWalker(repo, unindexed.index, badPacks, errors);
  const affected = new Map<Id, Set<Id>>();
  for (const { id: snapshotId, snapshot } of snapshots) {
    for (const packId of await walker.packsReachedFrom(snapshot.tree, snapshotId)) {
      if (!affected.has(packId)) affected.set(packId, new Set());
      affected.get(packId)!.add(snapshotId);
    }
  }
  const packProblems = [...badPacks].map(([packId, problem]) => ({ packId, problem, snapshots: [...(affected.get(packId) ?? [])] }));
  for (const p of packProblems) {
    const who = p.snapshots.length > 0 ? `affects snapshots ${p.snapshots.map(shortId).join(', ')}` : 'no snapshot references it';
    errors.push(`pack ${p.packId} ${p.problem}; ${who}`);
  }
  const readable = unreadableSnapshots.length > 0 ? ' that can be read' : '';
  for (const [packId] of unindexed.index.packs()) {
    const needing = [...(affected.get(packId) ?? [])];
    if (needing.length > 0) {
      errors.push(
        `pack ${packId} is not in the index, but snapshots ${needing.map(shortId).join(', ')} need blobs it holds (an index file naming it is missing or cannot be read): ` +
          'run `ferry repair index`, which rebuilds the index from the packs; nothing is lost',
      );
    } else {
      warnings.push(`pack ${shortId(packId)} is not in the index and no snapshot${readable} needs its blobs (left by an interrupted backup, prune or repair; harmless, \`ferry prune\` deletes it)`);
    }
  }
  for (const { id, problem } of unindexed.unreadable) {
    warnings.push(`pack ${shortId(id)} is not in the index and its header cannot be read (${problem}): no snapshot can use it; \`ferry prune\` deletes it`);
  }
  return {
    errors,
    warnings,
    packProblems,
    unreadableSnapshots,
    unreadableIndexFiles,
    snapshotsChecked: snapshots.length + unreadableSnapshots.length,
    packsChecked: repo.index.packs().size,
    packsRead,
  };
}

/** The blob lists of packs no index file names, read from their headers; those whose header does not open apart. */
async function readUnindexedPacks(repo: Repository, packs: readonly [Id, number][]): Promise<{ index: MasterIndex; unreadable: { id: Id; problem: string }[] }> {
  const found = new Map<Id, PackedBlob[]>();
  const unreadable: { id: Id; problem: string }[] = [];
  await forEachLimit(packs, HEADER_READS, async ([packId, size]) => {
    try {
      found.set(packId, await readPackHeader(repo.storage, objectKey('pack', packId), repo.key.encryptionKey, packId, size));
    } catch (err) {
      if (err instanceof NotFoundError) return; // removed since the listing (a concurrent prune)
      unreadable.push({ id: packId, problem: (err as Error).message });
    }
  });
  const index = new MasterIndex();
  for (const packId of [...found.keys()].sort()) index.addPack(packId, found.get(packId)!);
  return { index, unreadable: unreadable.sort((a, b) => a.id.localeCompare(b.id)) };
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
 * Walks snapshots' trees through the index, falling back on the headers of unindexed packs for blobs the
 * index lacks. Reports blobs found nowhere in `errors`.
 */
class SnapshotWalker {
  /** Tree → the bad or unindexed packs it reaches (recursively); visits each tree once across snapshots. */
  private readonly memo = new Map<Id, Set<Id>>();
  private readonly unindexedReader: BlobReader;

  constructor(
    private readonly repo: Repository,
    private readonly unindexed: MasterIndex,
    private readonly badPacks: ReadonlyMap<Id, string>,
    private readonly errors: string[],
  ) {
    this.unindexedReader = new BlobReader(repo.storage, unindexed, repo.key.encryptionKey);
  }

  /** The bad packs and the unindexed packs that the tree's blobs live in (recursively). */
  async packsReachedFrom(tree: Id, snapshotId: Id): Promise<Set<Id>> {
    const known = this.memo.get(tree);
    if (known) return known;
    const result = new Set<Id>();
    this.memo.set(tree, result);
    const indexed = this.repo.index.find('tree', tree);
    const stray = indexed ? undefined : this.unindexed.find('tree', tree);
    if (!indexed && !stray) {
      this.errors.push(`snapshot ${shortId(snapshotId)}: tree ${shortId(tree)} is not in the index nor in any pack: ${LOST}`);
      return result;
    }
    if (stray) result.add(stray.packId);
    if (indexed && this.badPacks.has(indexed.packId)) {
      result.add(indexed.packId);
      return result;
    }
    let nodes;
    try {
      nodes = decodeTree(await (indexed ? this.repo.loadBlob('tree', tree) : this.unindexedReader.load('tree', tree)));
    } catch (err) {
      this.errors.push(`snapshot ${shortId(snapshotId)}: ${withContext(`tree ${shortId(tree)}`, err).message}`);
      return result;
    }
    for (const node of nodes) {
      for (const id of node.content ?? []) {
        const blob = this.repo.index.find('data', id);
        const strayBlob = blob ? undefined : this.unindexed.find('data', id);
        if (strayBlob) result.add(strayBlob.packId);
        else if (!blob) this.errors.push(`snapshot ${shortId(snapshotId)}: data blob ${shortId(id)} of ${displayPath(node.name)} is not in the index nor in any pack: ${LOST}`);
        else if (this.badPacks.has(blob.packId)) result.add(blob.packId);
      }
      if (node.subtree) for (const packId of await this.packsReachedFrom(node.subtree, snapshotId)) result.add(packId);
    }
    return result;
  }
}

/** The remedy for a blob that no pack holds. */
const LOST = '`ferry repair snapshots` saves a copy of the snapshot without what is lost';

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
