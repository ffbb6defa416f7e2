import { forEachLimit } from '../../core/concurrency.js';
import { withContext } from '../../core/errors.js';
import { shortId } from '../../core/ids.js';
import { objectKey } from '../../storage/layout.js';
import type { IndexedPack } from '../index/index-format.js';
import { MasterIndex } from '../index/master-index.js';
import { BlobCodec, type EncodedBlob } from '../pack/blob-codec.js';
import { packSizeOf } from '../pack/pack-format.js';
import { PackUploader } from '../repository/pack-uploader.js';
import type { Repository } from '../repository/repository.js';
import type { RepackJob } from './prune-plan.js';
import { PruneRefusedError } from './prune-refused-error.js';

/** The packs a repack wrote. */
export interface RepackResult {
  /** The new packs with their blobs, ready to be named by an index file. */
  readonly packs: readonly IndexedPack[];
  readonly bytesWritten: number;
}

const PACK_READS = 4;
/** Packs up to this size are read in one load; larger ones blob by blob, to bound memory. */
const WHOLE_PACK_LIMIT = 64 * 1024 * 1024;

/**
 * Copies the blobs the jobs name into new packs, at most four old packs being read at once. Blobs are
 * moved sealed, without decrypting and encrypting again: a blob's associated data is its type and id,
 * not its pack, so its bytes stay valid anywhere. Each blob is still authenticated (decoded) before it
 * is copied, so damage is never carried into a new pack.
 *
 * Writes only new packs, which no index names until the caller writes one: if it fails, what it wrote
 * is unindexed and harmless. Throws {@link PruneRefusedError} when a blob does not authenticate; storage
 * errors propagate. Does not use or change `repo.index`.
 */
export async function repackBlobs(repo: Repository, jobs: readonly RepackJob[], onProgress?: (message: string) => void): Promise<RepackResult> {
  const packs: IndexedPack[] = [];
  let bytesWritten = 0;
  if (jobs.length === 0) return { packs, bytesWritten };
  // A fresh index: the uploader must not take the blobs being moved for ones already stored.
  const uploader = new PackUploader(repo.storage, repo.key.encryptionKey, new MasterIndex(), repo.config.packSize, (pack, bytes) => {
    packs.push(pack);
    bytesWritten += bytes;
  });
  const codec = new BlobCodec(repo.key.encryptionKey);
  let failure: Error | undefined;
  let done = 0;
  await forEachLimit(jobs, PACK_READS, async (job) => {
    if (failure !== undefined) return;
    try {
      for (const blob of await readBlobs(repo, job)) {
        try {
          codec.decode(blob.type, blob.id, blob.sealed, blob.compression, blob.rawLength);
        } catch (err) {
          throw new PruneRefusedError([`${blob.type} blob ${shortId(blob.id)} in pack ${shortId(job.pack.id)} is damaged (${(err as Error).message})`], { cause: err });
        }
        if (uploader.reserve(blob.id)) await uploader.add(blob);
      }
      onProgress?.(`repacked ${++done} of ${jobs.length} packs`);
    } catch (err) {
      failure ??= asError(err);
    }
  });
  if (failure !== undefined) throw failure;
  await uploader.flush();
  return { packs, bytesWritten };
}

/** The sealed bytes of the job's blobs, copied out of the pack so the pack's buffer can be freed. */
async function readBlobs(repo: Repository, job: RepackJob): Promise<EncodedBlob[]> {
  const key = objectKey('pack', job.pack.id);
  try {
    const whole = packSizeOf(job.pack.blobs) <= WHOLE_PACK_LIMIT ? await repo.storage.load(key) : undefined;
    const blobs: EncodedBlob[] = [];
    for (const blob of job.blobs) {
      const sealed = whole
        ? Buffer.from(whole.subarray(blob.offset, blob.offset + blob.length))
        : await repo.storage.load(key, { offset: blob.offset, length: blob.length });
      blobs.push({ type: blob.type, id: blob.id, compression: blob.compression, rawLength: blob.rawLength, sealed });
    }
    return blobs;
  } catch (err) {
    throw withContext(`reading pack ${shortId(job.pack.id)} to repack it`, err);
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
