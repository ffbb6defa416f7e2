import { IntegrityError } from '../../core/errors.js';
import { ID_BYTES, idFromBytes, idToBytes, type Id } from '../../core/ids.js';
import { open, seal, SEAL_OVERHEAD } from '../crypto/aead.js';
import { Compression } from '../compress/zstd.js';

/** Data blobs hold file content; tree blobs hold directory listings. They live in separate packs. */
export type BlobType = 'data' | 'tree';

/** One blob as listed in a pack header, in pack order. */
export interface PackEntry {
  readonly type: BlobType;
  readonly id: Id;
  readonly compression: Compression;
  /** Bytes the sealed blob occupies in the pack. */
  readonly length: number;
  /** Bytes of the plaintext (after decompression). */
  readonly rawLength: number;
}

/** A pack entry with its byte offset inside the pack. */
export interface PackedBlob extends PackEntry {
  readonly offset: number;
}

const HEADER_VERSION = 1;
const ENTRY_BYTES = 1 + 1 + 4 + 4 + ID_BYTES;
const HEADER_AAD = Buffer.from('ferry pack header v1');
/** The pack ends with the sealed header's length as a little-endian uint32. */
export const PACK_TRAILER_BYTES = 4;

export function encodePackHeader(entries: readonly PackEntry[]): Buffer {
  const out = Buffer.allocUnsafe(1 + 4 + entries.length * ENTRY_BYTES);
  out.writeUInt8(HEADER_VERSION, 0);
  out.writeUInt32LE(entries.length, 1);
  let at = 5;
  for (const entry of entries) {
    out.writeUInt8(entry.type === 'tree' ? 1 : 0, at);
    out.writeUInt8(entry.compression, at + 1);
    out.writeUInt32LE(entry.length, at + 2);
    out.writeUInt32LE(entry.rawLength, at + 6);
    idToBytes(entry.id).copy(out, at + 10);
    at += ENTRY_BYTES;
  }
  return out;
}

/** Parses a plaintext pack header; offsets follow from the lengths, starting at 0. */
export function decodePackHeader(bytes: Uint8Array): PackedBlob[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 5 || buf.readUInt8(0) !== HEADER_VERSION) throw new IntegrityError('pack header has an unknown version');
  const count = buf.readUInt32LE(1);
  if (buf.length !== 5 + count * ENTRY_BYTES) throw new IntegrityError('pack header length does not match its entry count');
  const entries: PackedBlob[] = [];
  let offset = 0;
  for (let i = 0, at = 5; i < count; i++, at += ENTRY_BYTES) {
    const type = buf.readUInt8(at);
    const compression = buf.readUInt8(at + 1);
    if (type > 1 || compression > 1) throw new IntegrityError('pack header has an unknown blob type or compression');
    const length = buf.readUInt32LE(at + 2);
    entries.push({
      type: type === 1 ? 'tree' : 'data',
      compression: compression as Compression,
      length,
      rawLength: buf.readUInt32LE(at + 6),
      id: idFromBytes(buf.subarray(at + 10, at + 10 + ID_BYTES)),
      offset,
    });
    offset += length;
  }
  return entries;
}

/** The header sealed with the repository key, plus the trailer, as appended after the blobs. */
export function sealPackHeader(key: Uint8Array, entries: readonly PackEntry[]): Buffer {
  const sealed = seal(key, encodePackHeader(entries), HEADER_AAD);
  const trailer = Buffer.allocUnsafe(PACK_TRAILER_BYTES);
  trailer.writeUInt32LE(sealed.length, 0);
  return Buffer.concat([sealed, trailer]);
}

/**
 * Reads the blob list of a whole pack held in memory and checks that the blobs exactly fill the space
 * before the header. Throws `IntegrityError` on any inconsistency.
 */
export function openPackHeader(key: Uint8Array, pack: Uint8Array): PackedBlob[] {
  if (pack.length < PACK_TRAILER_BYTES) throw new IntegrityError('pack is shorter than its trailer');
  const view = Buffer.from(pack.buffer, pack.byteOffset, pack.byteLength);
  const headerLength = view.readUInt32LE(view.length - PACK_TRAILER_BYTES);
  const headerStart = view.length - PACK_TRAILER_BYTES - headerLength;
  if (headerStart < 0) throw new IntegrityError('pack header length points before the start of the pack');
  return openSealedPackHeader(key, view.subarray(headerStart, view.length - PACK_TRAILER_BYTES), headerStart);
}

/**
 * Opens a sealed pack header read on its own (e.g. by a ranged load) and checks that its blobs exactly
 * fill the `headerStart` bytes before it. Throws `IntegrityError` on any inconsistency.
 */
export function openSealedPackHeader(key: Uint8Array, sealed: Uint8Array, headerStart: number): PackedBlob[] {
  const entries = decodePackHeader(open(key, sealed, HEADER_AAD));
  const last = entries[entries.length - 1];
  const blobsEnd = last ? last.offset + last.length : 0;
  if (blobsEnd !== headerStart) {
    const tail = sealed.length + PACK_TRAILER_BYTES;
    throw new IntegrityError(`has ${headerStart + tail} bytes but its header accounts for ${blobsEnd + tail}`);
  }
  return entries;
}

/** The total size of a pack holding `blobs`: their bytes, the sealed header and the trailer. */
export function packSizeOf(blobs: readonly PackEntry[]): number {
  let blobBytes = 0;
  for (const blob of blobs) blobBytes += blob.length;
  return packSizeFor(blobs.length, blobBytes);
}

/** {@link packSizeOf} from the number of blobs and the sum of their lengths. */
export function packSizeFor(count: number, blobBytes: number): number {
  return SEAL_OVERHEAD + 5 + count * ENTRY_BYTES + PACK_TRAILER_BYTES + blobBytes;
}
