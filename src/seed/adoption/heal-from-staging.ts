import { forEachLimit } from '../../core/concurrency.js';
import { InterruptedError } from '../../core/errors.js';
import type { Storage } from '../../storage/storage.js';
import { ADOPTED_KINDS, listContentObjects } from './content-objects.js';

/** How far an upload of missing objects is. */
export interface UploadProgress {
  readonly objectsDone: number;
  readonly objectsTotal: number;
  readonly bytesDone: number;
  readonly bytesTotal: number;
}

export interface UploadResult {
  /** The keys uploaded, packs first, then index files, then snapshots. */
  readonly uploaded: readonly string[];
  readonly bytes: number;
}

export interface UploadOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: UploadProgress) => void;
  /** Packs uploaded at once (default 4). */
  readonly concurrency?: number;
}

/**
 * Uploads every content-named object of `from` under data/, index/ and snapshots/ that `to` lacks: the
 * packs lost in transit and everything a backup wrote into staging while the disks travelled. `from` is
 * listed snapshots first, packs last, so a backup writing into it meanwhile cannot leave a listed
 * snapshot without its index or packs; uploads go packs first, snapshots last, so `to` never shows a
 * snapshot whose packs are missing. An object `to` has is never sent again (content-named: same key,
 * same bytes), so an interrupted run simply runs again. `InterruptedError` when `signal` aborts.
 */
export async function uploadMissingObjects(from: Storage, to: Storage, options: UploadOptions = {}): Promise<UploadResult> {
  const listed = new Map<string, Map<string, number>>();
  for (const kind of [...ADOPTED_KINDS].reverse()) listed.set(kind, await listContentObjects(from, kind));
  const missing: { key: string; size: number }[][] = [];
  for (const kind of ADOPTED_KINDS) {
    const present = await listContentObjects(to, kind);
    missing.push([...listed.get(kind)!].filter(([key]) => !present.has(key)).map(([key, size]) => ({ key, size })).sort((a, b) => (a.key < b.key ? -1 : 1)));
  }
  const all = missing.flat();
  const total = { objectsTotal: all.length, bytesTotal: all.reduce((sum, o) => sum + o.size, 0) };
  let objectsDone = 0;
  let bytesDone = 0;
  const uploaded: string[] = [];
  options.onProgress?.({ objectsDone, bytesDone, ...total });
  for (const group of missing) {
    await forEachLimit(group, options.concurrency ?? 4, async ({ key }) => {
      if (options.signal?.aborted) throw new InterruptedError('interrupted while uploading staging objects into the import');
      const bytes = await from.load(key);
      await to.save(key, bytes, { length: bytes.length });
      uploaded.push(key);
      objectsDone++;
      bytesDone += bytes.length;
      options.onProgress?.({ objectsDone, bytesDone, ...total });
    });
  }
  return { uploaded, bytes: bytesDone };
}
