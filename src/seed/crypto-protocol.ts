/** Messages between diskprep's main thread and its crypto workers (crypto-pool.ts, crypto-worker.ts). */
import type { FileCheck } from './disk-types.js';
import type { ManifestEntry } from './manifest.js';

/**
 * Seal a run of consecutive segments of one file and fold their plaintext into the file's SHA-256.
 * Runs of one file go to one worker, in order; `file` names the file's hash state there.
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
  /** Segments of the whole file. */
  readonly segments: number;
  readonly segmentSize: number;
  readonly data: Uint8Array;
}

export interface SealReply {
  readonly kind: 'sealed';
  readonly id: number;
  /** ciphertext, tag, ciphertext, tag, …: the records in order. */
  readonly parts: Uint8Array[];
  /** The file's SHA-256 (hex), with the run that holds its last segment. */
  readonly sha256?: string;
}

/** Verify one file of a disk against its manifest entry (read, authenticate every segment, hash). */
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
  /** Plaintext bytes authenticated. */
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
