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

/** Parses an index; throws `IntegrityError` on truncation, trailing bytes or unknown values. */
export function decodeIndex(bytes: Uint8Array): IndexFile {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const need = (n: number): void => {
    if (at + n > buf.length) throw new IntegrityError('index is truncated');
  };
  const readId = (): Id => {
    need(ID_BYTES);
    const id = idFromBytes(buf.subarray(at, at + ID_BYTES));
    at += ID_BYTES;
    return id;
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
  for (let n = readU32(); n > 0; n--) supersedes.push(readId());
  const packs: IndexedPack[] = [];
  for (let packCount = readU32(); packCount > 0; packCount--) {
    const id = readId();
    const blobs: PackedBlob[] = [];
    for (let n = readU32(); n > 0; n--) {
      need(ENTRY_BYTES);
      const type = buf.readUInt8(at);
      const compression = buf.readUInt8(at + 1);
      if (type > 1 || compression > 1) throw new IntegrityError('index has an unknown blob type or compression');
      const offset = buf.readUInt32LE(at + 2);
      const length = buf.readUInt32LE(at + 6);
      const rawLength = buf.readUInt32LE(at + 10);
      at += 14;
      blobs.push({ type: type === 1 ? 'tree' : 'data', compression: compression as Compression, offset, length, rawLength, id: readId() });
    }
    packs.push({ id, blobs });
  }
  if (at !== buf.length) throw new IntegrityError('index has trailing bytes');
  return { packs, supersedes };
}
