import type { Id } from '../../core/ids.js';
import type { Compression } from '../compress/zstd.js';
import type { BlobType } from '../pack/pack-format.js';

/** Messages between the main thread and a decoder worker. Buffers are transferred, not copied. */
export interface DecoderSetup {
  readonly encryptionKey: Uint8Array;
}

export interface DecodeRequest {
  readonly kind?: undefined;
  readonly seq: number;
  readonly type: BlobType;
  readonly id: Id;
  readonly compression: Compression;
  readonly rawLength: number;
  readonly sealed: Uint8Array;
}

/** A decoded blob's buffer the main thread is done with, handed back (transferred) for the next blob. */
export interface RecycleRequest {
  readonly kind: 'recycle';
  readonly buffer: ArrayBuffer;
}

export type ToDecoder = DecodeRequest | RecycleRequest;

/** `data` is a view of an ArrayBuffer that is transferred whole (it may be longer than the blob). */
export type DecodeReply =
  | { readonly seq: number; readonly data: Uint8Array }
  | { readonly seq: number; readonly error: string; readonly integrity: boolean };

/** An ArrayBuffer that may be transferred: `bytes` must span the whole of it, else it is copied first. */
export function transferable(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer
    ? bytes
    : new Uint8Array(bytes);
}
