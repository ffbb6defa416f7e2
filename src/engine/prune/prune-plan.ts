import type { Id } from '../../core/ids.js';
import type { IndexedPack } from '../index/index-format.js';
import { packSizeOf, type BlobType, type PackedBlob } from '../pack/pack-format.js';

/** A partly used pack whose used blobs move to new packs before it is deleted. */
export interface RepackJob {
  readonly pack: IndexedPack;
  /** The blobs to copy, in pack order. */
  readonly blobs: readonly PackedBlob[];
}

/** What prune does with every pack. Each stored pack is in exactly one of keep, repack, remove, unindexed. */
export interface PrunePlan {
  /** Indexed packs kept as they are: fully used, or too little unused to be worth repacking. By id. */
  readonly keep: readonly IndexedPack[];
  readonly repack: readonly RepackJob[];
  /** Indexed packs none of whose blobs is used. */
  readonly remove: readonly Id[];
  /** Stored packs that no index file in effect names (left by interrupted backups or prunes). */
  readonly unindexed: readonly Id[];
  /** Index entries that go away: every blob of removed packs and the unused ones of repacked packs. */
  readonly blobsRemoved: number;
  /** Stored bytes of every pack to delete: removed, repacked and unindexed. */
  readonly bytesToDelete: number;
}

/**
 * Sorts packs into keep, repack and remove by the blobs in `used`. A partly used pack is repacked when
 * the unused share of its blob bytes is above `repackUnusedShare` (0 repacks any pack with an unused
 * blob, 1 never repacks). A blob stored in several packs (after a crash or concurrent backups) counts as
 * used in one of them only, preferring the packs with the largest used share, so its duplicates are
 * dropped rather than copied. Pure: no I/O.
 */
export function planPrune(
  indexedPacks: ReadonlyMap<Id, IndexedPack>,
  storedPacks: ReadonlyMap<Id, number>,
  used: ReadonlySet<Id>,
  repackUnusedShare: number,
): PrunePlan {
  const ranked = [...indexedPacks.values()]
    .map((pack) => ({ pack, share: usedShare(pack.blobs, (blob) => used.has(blob.id)) }))
    .sort((a, b) => b.share - a.share || a.pack.id.localeCompare(b.pack.id));
  const assigned = new Set<Id>();
  const keep: IndexedPack[] = [];
  const repack: RepackJob[] = [];
  const remove: Id[] = [];
  let blobsRemoved = 0;
  for (const { pack } of ranked) {
    const mine: PackedBlob[] = [];
    for (const blob of pack.blobs) {
      if (!used.has(blob.id) || assigned.has(blob.id)) continue;
      assigned.add(blob.id);
      mine.push(blob);
    }
    if (mine.length === 0) {
      remove.push(pack.id);
      blobsRemoved += pack.blobs.length;
    } else if (mine.length === pack.blobs.length || 1 - bytesOf(mine) / bytesOf(pack.blobs) <= repackUnusedShare) {
      keep.push(pack);
    } else {
      repack.push({ pack, blobs: mine });
      blobsRemoved += pack.blobs.length - mine.length;
    }
  }
  const unindexed = [...storedPacks.keys()].filter((id) => !indexedPacks.has(id));
  let bytesToDelete = 0;
  for (const id of [...remove, ...repack.map((job) => job.pack.id), ...unindexed]) bytesToDelete += storedPacks.get(id) ?? 0;
  const byId = (a: Id, b: Id): number => a.localeCompare(b);
  return {
    keep: keep.sort((a, b) => byId(a.id, b.id)),
    repack: repack.sort((a, b) => byId(a.pack.id, b.pack.id)),
    remove: remove.sort(byId),
    unindexed: unindexed.sort(byId),
    blobsRemoved,
    bytesToDelete,
  };
}

/** Share of the blob bytes of a pack taken by the blobs `isUsed` accepts; 0 for an empty pack. */
function usedShare(blobs: readonly PackedBlob[], isUsed: (blob: PackedBlob) => boolean): number {
  const total = bytesOf(blobs);
  return total === 0 ? 0 : bytesOf(blobs.filter(isUsed)) / total;
}

function bytesOf(blobs: readonly PackedBlob[]): number {
  let bytes = 0;
  for (const blob of blobs) bytes += blob.length;
  return bytes;
}

/**
 * About how many bytes the new packs of `jobs` take: their blobs plus a header per pack, with packs
 * filled to `packSize` per blob type. Used for dry runs; the real count depends on how blobs interleave.
 */
export function estimateRepackedBytes(jobs: readonly RepackJob[], packSize: number): number {
  const byType = new Map<BlobType, PackedBlob[]>();
  for (const job of jobs) {
    for (const blob of job.blobs) {
      const list = byType.get(blob.type) ?? [];
      list.push(blob);
      byType.set(blob.type, list);
    }
  }
  let bytes = 0;
  for (const blobs of byType.values()) {
    const packs = Math.max(1, Math.ceil(bytesOf(blobs) / packSize));
    // packSizeOf counts one header: add the fixed part of the others.
    bytes += packSizeOf(blobs) + (packs - 1) * packSizeOf([]);
  }
  return bytes;
}
