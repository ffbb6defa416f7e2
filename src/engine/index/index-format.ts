import { IntegrityError } from '../../core/errors.js';
import { ID_BYTES, idFromBytes, idToBytes, type Id } from '../../core/ids.js';
import type { Compression } from '../compress/zstd.js';
import type { PackedBlob } from '../pack/pack-format.js';

/** The packs one index file describes, and the older index files it replaces (empty unless rewritten). */
export interface IndexFile {
  readonly packs: readonly IndexedPack[];
  readonly supersedes: readonly Id[];
}

export interface IndexedPack {
  readonly id: Id;
  readonly blobs: readonly PackedBlob[];
}

const VERSION = 1;
const ENTRY_BYTES = 1 + 1 + 4 + 4 + 4 + ID_BYTES;

/** Binary encoding (before compression and sealing); see docs/repository-format.md. */
export function encodeIndex(index: IndexFile): Buffer {
  let size = 1 + 4 + index.supersedes.length * ID_BYTES + 4;
  for (const pack of index.packs) size += ID_BYTES + 4 + pack.blobs.length * ENTRY_BYTES;
  const out = Buffer.allocUnsafe(size);
  let at = out.writeUInt8(VERSION, 0);
  at = out.writeUInt32LE(index.supersedes.length, at);
  for (const id of index.supersedes) at += idToBytes(id).copy(out, at);
  at = out.writeUInt32LE(index.packs.length, at);
  for (const pack of index.packs) {
    at += idToBytes(pack.id).copy(out, at);
    at = out.writeUInt32LE(pack.blobs.length, at);
    for (const blob of pack.blobs) {
      at = out.writeUInt8(blob.type === 'tree' ? 1 : 0, at);
      at = out.writeUInt8(blob.compression, at);
      at = out.writeUInt32LE(blob.offset, at);
      at = out.writeUInt32LE(blob.length, at);
      at = out.writeUInt32LE(blob.rawLength, at);
      at += idToBytes(blob.id).copy(out, at);
    }
  }
  return out;
}

/** Where one pack's listing lies in an encoded index (see {@link scanIndex}). */
export interface ScannedPack {
  /** Position of the pack's 32-byte id. */
  readonly idAt: number;
  /** Position of its first blob entry; entries are {@link ENTRY_BYTES} apart. */
  readonly entriesAt: number;
  readonly count: number;
}

/** Byte positions of an entry's fields, from the entry's start. */
export const ENTRY = { type: 0, compression: 1, offset: 2, length: 6, rawLength: 10, id: 14 } as const;
export { ENTRY_BYTES };

/**
 * Checks a whole encoded index and says where its parts are, without making an object per blob (the
 * index loader reads entries in place). Throws `IntegrityError` on truncation, trailing bytes or unknown
 * values, before returning anything.
 */
export function scanIndex(bytes: Uint8Array): { supersedes: Id[]; packs: ScannedPack[] } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const need = (n: number): void => {
    if (at + n > buf.length) throw new IntegrityError('index is truncated');
  };
  const readU32 = (): number => {
    need(4);
    const value = buf.readUInt32LE(at);
    at += 4;
    return value;
  };
  need(1);
  if (buf.readUInt8(at++) !== VERSION) throw new IntegrityError('index has an unknown version');
  const supersedes: Id[] = [];
  for (let n = readU32(); n > 0; n--) {
    need(ID_BYTES);
    supersedes.push(idFromBytes(buf.subarray(at, at + ID_BYTES)));
    at += ID_BYTES;
  }
  const packs: ScannedPack[] = [];
  for (let packCount = readU32(); packCount > 0; packCount--) {
    need(ID_BYTES);
    const idAt = at;
    at += ID_BYTES;
    const count = readU32();
    // Checked before the loop so a huge count fails at once rather than after reading past the end.
    need(count * ENTRY_BYTES);
    const entriesAt = at;
    for (let i = 0; i < count; i++, at += ENTRY_BYTES) {
      if (buf[at + ENTRY.type]! > 1 || buf[at + ENTRY.compression]! > 1) throw new IntegrityError('index has an unknown blob type or compression');
    }
    packs.push({ idAt, entriesAt, count });
  }
  if (at !== buf.length) throw new IntegrityError('index has trailing bytes');
  return { supersedes, packs };
}

/** Parses an index; throws `IntegrityError` on truncation, trailing bytes or unknown values. */
export function decodeIndex(bytes: Uint8Array): IndexFile {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { supersedes, packs } = scanIndex(buf);
  return {
    packs: packs.map(({ idAt, entriesAt, count }) => {
      const blobs: PackedBlob[] = [];
      for (let i = 0, at = entriesAt; i < count; i++, at += ENTRY_BYTES) {
        blobs.push({
          type: buf[at + ENTRY.type] === 1 ? 'tree' : 'data',
          compression: buf[at + ENTRY.compression] as Compression,
          offset: buf.readUInt32LE(at + ENTRY.offset),
          length: buf.readUInt32LE(at + ENTRY.length),
          rawLength: buf.readUInt32LE(at + ENTRY.rawLength),
          id: idFromBytes(buf.subarray(at + ENTRY.id, at + ENTRY.id + ID_BYTES)),
        });
      }
      return { id: idFromBytes(buf.subarray(idAt, idAt + ID_BYTES)), blobs };
    }),
    supersedes,
  };
}
