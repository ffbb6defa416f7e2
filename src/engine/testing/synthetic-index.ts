import { createCipheriv } from 'node:crypto';
import { ID_BYTES } from '../../core/ids.js';
import { objectKey } from '../../storage/layout.js';
import type { Storage } from '../../storage/storage.js';
import { BlobCompressor } from '../compress/zstd.js';
import { SEAL_OVERHEAD } from '../crypto/aead.js';
import { sha256Id } from '../crypto/sha256.js';
import { sealEncodedIndex } from '../index/index-file.js';
import { ENTRY, ENTRY_BYTES } from '../index/index-format.js';

/**
 * Index files for a repository far larger than any test can store: `blobs` data blobs of `blobSize`
 * bytes in packs of `blobsPerPack`, `blobsPerFile` to an index file, with random blob and pack ids and
 * no pack data. Written straight in the binary index format (no object per blob), so 20 million entries
 * take seconds. Deterministic for a `seed`.
 */
export interface SyntheticIndexOptions {
  readonly blobs: number;
  readonly blobSize?: number;
  readonly blobsPerPack?: number;
  readonly blobsPerFile?: number;
  /** zstd-compress the files as the engine does (slower to write and read); default raw. */
  readonly compress?: boolean;
  readonly seed?: number;
}

const DEFAULTS = { blobSize: 256 * 1024, blobsPerPack: 64, blobsPerFile: 65_536, compress: false, seed: 1 };

/** Number of index files {@link writeSyntheticIndex} writes. */
export function syntheticIndexFiles(options: SyntheticIndexOptions): number {
  const { blobsPerPack, blobsPerFile } = { ...DEFAULTS, ...options };
  const perFile = Math.max(blobsPerPack, blobsPerFile - (blobsPerFile % blobsPerPack));
  return Math.ceil(options.blobs / perFile);
}

/** The encoded (unsealed) index file number `n` of the synthetic index. */
export function syntheticIndexFile(options: SyntheticIndexOptions, n: number): Buffer {
  const { blobSize, blobsPerPack, blobsPerFile, seed } = { ...DEFAULTS, ...options };
  const perFile = Math.max(blobsPerPack, blobsPerFile - (blobsPerFile % blobsPerPack));
  const blobs = Math.min(perFile, options.blobs - n * perFile);
  const packs = Math.ceil(blobs / blobsPerPack);
  const size = 1 + 4 + 4 + packs * (ID_BYTES + 4) + blobs * ENTRY_BYTES;
  // An AES-CTR keystream is the cheapest source of random ids; it fills every byte, fields are then written over it.
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(n, 0);
  iv.writeUInt32BE(seed, 4);
  const out = createCipheriv('aes-128-ctr', Buffer.alloc(16, 0x5e), iv).update(Buffer.alloc(size));
  out.writeUInt8(1, 0);
  out.writeUInt32LE(0, 1);
  out.writeUInt32LE(packs, 5);
  const length = blobSize + SEAL_OVERHEAD;
  let at = 9;
  for (let p = 0, left = blobs; p < packs; p++) {
    const count = Math.min(blobsPerPack, left);
    left -= count;
    at += ID_BYTES;
    out.writeUInt32LE(count, at);
    at += 4;
    for (let i = 0; i < count; i++, at += ENTRY_BYTES) {
      out[at + ENTRY.type] = 0;
      out[at + ENTRY.compression] = 0;
      out.writeUInt32LE(i * length, at + ENTRY.offset);
      out.writeUInt32LE(length, at + ENTRY.length);
      out.writeUInt32LE(blobSize, at + ENTRY.rawLength);
    }
  }
  return out;
}

/** Seals and saves the synthetic index files numbered `from` to `to` (exclusive) in `storage`. */
export async function writeSyntheticIndex(storage: Storage, encryptionKey: Uint8Array, options: SyntheticIndexOptions, from = 0, to = syntheticIndexFiles(options)): Promise<void> {
  const compressor = options.compress ? new BlobCompressor() : undefined;
  for (let n = from; n < to; n++) {
    const sealed = sealEncodedIndex(encryptionKey, syntheticIndexFile(options, n), compressor);
    await storage.save(objectKey('index', sha256Id(sealed)), sealed, { length: sealed.length });
  }
}
