import type { Id } from '../../core/ids.js';
import type { PackedBlob, BlobType } from '../pack/pack-format.js';

/** Messages between the main thread and an encoder worker. Buffers are transferred, not copied. */
export interface EncoderSetup {
  readonly encryptionKey: Uint8Array;
  readonly compressionLevel: number;
  readonly packSize: number;
}

/** One blob of a batch: its bytes are `data[offset, offset + length)` of the batch's buffer. */
export interface BlobJob {
  readonly type: BlobType;
  readonly id: Id;
  readonly offset: number;
  readonly length: number;
}

/** A batch travels as one transferred buffer, however many blobs it holds. */
export type ToEncoder = { readonly kind: 'blobs'; readonly jobs: BlobJob[]; readonly data: Uint8Array } | { readonly kind: 'flush' };

export interface PackMessage {
  readonly id: Id;
  readonly bytes: Uint8Array;
  readonly blobs: PackedBlob[];
}

export type FromEncoder =
  | { readonly kind: 'done'; readonly blobs: number; readonly bytes: number; readonly packs: PackMessage[] }
  | { readonly kind: 'flushed'; readonly packs: PackMessage[] }
  | { readonly kind: 'error'; readonly message: string };
