import type { Id } from '../../core/ids.js';
import type { PackedBlob, BlobType } from '../pack/pack-format.js';

/**
 * Messages between the main thread and an encoder worker. Blobs travel through a ring of shared memory
 * per worker (the main thread copies each blob in once, the worker reads it in place); only their
 * descriptions are posted. A batch is first hashed (`hash`, answered by `hashed`), then, once the main
 * thread has deduplicated the ids, encoded (`encode`, answered by `done`). Data packs are written as they
 * fill: the worker seals their blobs into a second ring of shared memory (`outRing`, see PackStream) and
 * sends each range as it is ready (`range`); the main thread appends it to the pack's object and gives
 * the space back (`released`); at the pack's end the worker sends its name (`sealed`) and the main thread
 * commits the object under it. Tree packs (small) are transferred whole to the main thread.
 */
export interface EncoderSetup {
  readonly encryptionKey: Uint8Array;
  /** The key of blob ids (see ContentHasher). */
  readonly contentIdKey: Uint8Array;
  readonly compressionLevel: number;
  readonly packSize: number;
  /** The worker's ring: blobs are `ring[offset, offset + length)`. */
  readonly ring: SharedArrayBuffer;
  /**
   * The data packs' ring: `outRing[outOffset, outOffset + outLength)` (starting on a block boundary), of
   * which the first `outRingBytes` hold the stream and the rest is overflow (see PackStream).
   */
  readonly outRing: SharedArrayBuffer;
  readonly outOffset: number;
  readonly outLength: number;
  readonly outRingBytes: number;
}

/**
 * One blob of a batch: its bytes are `ring[offset, offset + length)`, or `data` when the blob was too
 * large for the ring (then transferred with the message). `id` is set when the main thread hashed it.
 */
export interface BlobJob {
  readonly type: BlobType;
  readonly id?: Id;
  readonly offset: number;
  readonly length: number;
  readonly data?: Uint8Array;
}

/**
 * `hash`: a batch; answer its ids (`hashed`) and keep it until its `encode`.
 * `encode`: for the oldest batch hashed and not yet encoded, whether to encode each blob (the others
 * are known); then answer `done` (batches are answered in order, which frees their ring space).
 * `released`: `bytes` of the data packs' ring were written out (ranges are released in the order sent).
 * `flush`: once every batch decided so far is encoded, end the data pack and hand over the partly filled tree packs.
 */
export type ToEncoder =
  | { readonly kind: 'hash'; readonly jobs: BlobJob[] }
  | { readonly kind: 'encode'; readonly encode: readonly boolean[] }
  | { readonly kind: 'flush' }
  | { readonly kind: 'released'; readonly bytes: number };

export interface PackMessage {
  readonly id: Id;
  readonly bytes: Uint8Array;
  readonly blobs: PackedBlob[];
}

/**
 * `hashed`: the ids of the oldest batch not yet answered. `packed`: a pack finished (transferred).
 * `done`: the oldest batch decided and not yet answered is encoded (its ring space is free again).
 * `flushed`: the partly filled tree packs, after every batch decided before the flush (and the data pack's `sealed`).
 * `range`: the next bytes of the worker's open data pack are `outRing[offset, offset + length)`; once written,
 * answer `released` with `release` (which counts the padding before a pack too).
 * `sealed`: the open data pack is complete (its ranges were all sent): `length` bytes, named `id`.
 */
export type FromEncoder =
  | { readonly kind: 'hashed'; readonly ids: Id[] }
  | { readonly kind: 'packed'; readonly packs: PackMessage[] }
  | { readonly kind: 'done' }
  | { readonly kind: 'range'; readonly offset: number; readonly length: number; readonly release: number }
  | { readonly kind: 'sealed'; readonly id: Id; readonly blobs: PackedBlob[]; readonly length: number }
  | { readonly kind: 'flushed'; readonly packs: PackMessage[] }
  | { readonly kind: 'error'; readonly message: string };
