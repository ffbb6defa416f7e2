/** Messages between diskprep's main thread and its crypto workers (crypto-pool.ts, crypto-worker.ts). */
import type { FileCheck } from './disk-types.js';
import type { ManifestEntry } from './manifest.js';

/**
 * Protect a run of consecutive segments of one file (tag each, encrypt the file's tail) and fold its
 * bytes into the file's SHA-256. Runs of one file go to one worker, in order; `file` names the file's
 * hash state there. `data`'s whole ArrayBuffer is moved to the worker and back (CryptoPool.seal).
 */
export interface SealRequest {
  readonly kind: 'seal';
  readonly id: number;
  readonly file: number;
  readonly fileKey: Uint8Array;
  readonly diskId: string;
  readonly path: string;
  readonly fileId: Uint8Array;
  /** Index of the first segment in `data`. */
  readonly first: number;
  /** Bytes of the whole file. */
  readonly size: number;
  readonly segmentSize: number;
  readonly data: Uint8Array;
}

export interface SealReply {
  readonly kind: 'sealed';
  readonly id: number;
  /** The request's data, given back: the bytes of the segments that are not encrypted. */
  readonly data: Uint8Array;
  /** The run's tags, 16 bytes per segment, in order. */
  readonly tags: Uint8Array;
  /** The ciphertexts of the run's encrypted segments, in order. */
  readonly encrypted: Uint8Array[];
  /** The file's SHA-256 (hex), with the run that holds its last segment. */
  readonly sha256?: string;
}

/** Verify one file of a disk against its manifest entry (read and authenticate every segment). */
export interface VerifyRequest {
  readonly kind: 'verify';
  readonly id: number;
  readonly fileKey: Uint8Array;
  readonly diskId: string;
  readonly disk: string;
  readonly segmentSize: number;
  readonly entry: ManifestEntry;
  readonly readBytes: number;
}

export interface VerifyReply {
  readonly kind: 'verified';
  readonly id: number;
  readonly check: FileCheck;
  /** Bytes authenticated. */
  readonly bytes: number;
}

/** A request failed; `integrity` when it was an IntegrityError. */
export interface FailedReply {
  readonly kind: 'failed';
  readonly id: number;
  readonly message: string;
  readonly integrity: boolean;
}

export type CryptoRequest = SealRequest | VerifyRequest;
export type CryptoReply = SealReply | VerifyReply | FailedReply;

/** The buffers among `views` that can be moved to another thread: each owns its whole ArrayBuffer, once. */
export function movableBuffers(views: readonly Uint8Array[]): ArrayBuffer[] {
  const used = new Map<ArrayBuffer, number>();
  for (const view of views) {
    if (view.buffer instanceof ArrayBuffer) used.set(view.buffer, (used.get(view.buffer) ?? 0) + view.byteLength);
  }
  return [...used].filter(([buffer, bytes]) => bytes === buffer.byteLength).map(([buffer]) => buffer);
}
