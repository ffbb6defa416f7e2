import { IntegrityError } from '../../core/errors.js';
import { open, seal } from '../crypto/aead.js';
import type { BlobCompressor } from '../compress/zstd.js';
import { decodeIndex, encodeIndex, type IndexFile } from './index-format.js';

const AAD = Buffer.from('ferry index v1');
const RAW = 0;
const ZSTD = 1;

/** Encodes, compresses and seals an index file; the result is stored under its SHA-256. */
export function sealIndex(key: Uint8Array, index: IndexFile, compressor: BlobCompressor): Buffer {
  return sealEncodedIndex(key, encodeIndex(index), compressor);
}

/**
 * Seals an index already in its binary encoding (`encodeIndex`'s output, or bytes laid out the same way
 * by a generator); without a compressor it is stored raw.
 */
export function sealEncodedIndex(key: Uint8Array, plain: Buffer, compressor?: BlobCompressor): Buffer {
  const packed = compressor?.compress(plain);
  const body = packed ? Buffer.concat([Buffer.of(ZSTD), packed]) : Buffer.concat([Buffer.of(RAW), plain]);
  return seal(key, body, AAD);
}

/** Reverses {@link sealIndex}; `IntegrityError` on any damage. */
export function openIndex(key: Uint8Array, sealed: Uint8Array, compressor: BlobCompressor): IndexFile {
  return decodeIndex(openIndexBytes(key, sealed, compressor));
}

/** Opens a sealed index to its encoded form (to be checked by `scanIndex` or `decodeIndex`); `IntegrityError` on damage. */
export function openIndexBytes(key: Uint8Array, sealed: Uint8Array, compressor: BlobCompressor): Buffer {
  const body = open(key, sealed, AAD);
  const flag = body[0];
  if (flag === RAW) return body.subarray(1);
  if (flag !== ZSTD) throw new IntegrityError('index has an unknown compression flag');
  return compressor.decompress(body.subarray(1));
}
