import type { Id } from '../../core/ids.js';
import type { PackedBlob, BlobType } from '../pack/pack-format.js';

/**
 * Messages between the main thread and an encoder worker. Blobs travel through a ring of shared memory
 * per worker (the main thread copies each blob in once, the worker reads it in place); only their
 * descriptions are posted. A batch is first hashed (`hash`, answered by `hashed`), then, once the main
 * thread has deduplicated the ids, encoded (`encode`, answered by `done`). Packs are transferred to the
 * main thread. Data pack buffers are a budget shared by all workers (see EncoderPool): a worker asks for
 * one (`want`) before it starts a data pack and gets a saved pack's buffer back, or leave to allocate a
 * new one while the budget allows (`buffer`), so neither side allocates per blob or per pack in the
 * steady state and the pack buffers in all stay bounded however many workers run.
 */
export interface EncoderSetup {
  readonly encryptionKey: Uint8Array;
  /** The key of blob ids (see ContentHasher). */
  readonly contentIdKey: Uint8Array;
  readonly compressionLevel: number;
  readonly packSize: number;
  /** The worker's ring: blobs are `ring[offset, offset + length)`. */
  readonly ring: SharedArrayBuffer;
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
 * `buffer`: the answer to a `want`: one data pack's share of the budget, with a saved pack's buffer to
 * reuse (transferred) or without one (allocate a new buffer).
 * `flush`: once every batch decided so far is encoded, hand over the partly filled packs.
 */
export type ToEncoder =
  | { readonly kind: 'hash'; readonly jobs: BlobJob[] }
  | { readonly kind: 'encode'; readonly encode: readonly boolean[] }
  | { readonly kind: 'flush' }
  | { readonly kind: 'buffer'; readonly buffer?: ArrayBuffer };

export interface PackMessage {
  readonly id: Id;
  readonly bytes: Uint8Array;
  readonly blobs: PackedBlob[];
}

/**
 * `hashed`: the ids of the oldest batch not yet answered. `packed`: a pack finished (transferred).
 * `done`: the oldest batch decided and not yet answered is encoded (its ring space is free again).
 * `flushed`: the partly filled packs, after every batch decided before the flush.
 * `want`: the worker must start a data pack and holds no buffer for it: it encodes nothing until `buffer`.
 * Every data pack the worker hands over (`packed`, `flushed`) gives its share back once it is saved.
 */
export type FromEncoder =
  | { readonly kind: 'hashed'; readonly ids: Id[] }
  | { readonly kind: 'packed'; readonly packs: PackMessage[] }
  | { readonly kind: 'done' }
  | { readonly kind: 'want' }
  | { readonly kind: 'flushed'; readonly packs: PackMessage[] }
  | { readonly kind: 'error'; readonly message: string };
