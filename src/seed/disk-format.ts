/**
 * The constants and pure functions of the disk format (docs/disk-format.md): names on a disk, the
 * file header, which segments are encrypted, segment nonces and associated data, and the subkeys of a
 * disk key.
 */
import { hkdfSync } from 'node:crypto';
import { IntegrityError } from '../core/errors.js';

export const DISK_FORMAT_VERSION = 2;
export const LABEL_NAME = 'FERRY-DISK.json';
export const MANIFEST_NAME = 'FERRY-MANIFEST';
export const FILES_FOLDER = 'files';
/** Prefix of the temporary files diskprep writes on a disk while replacing the label or the manifest. */
export const DISK_TEMP_PREFIX = '.ferry-tmp-';
/** The largest label a reader accepts. */
export const LABEL_MAX_BYTES = 4096;
/** Segments of 1 MiB of plaintext each. */
export const SEGMENT_SIZE = 1024 * 1024;
/** Segment sizes a reader accepts (the writer always uses SEGMENT_SIZE; tests use small ones). */
export const MIN_SEGMENT_SIZE = 16;
export const MAX_SEGMENT_SIZE = 64 * 1024 * 1024;
export const DISK_KEY_BYTES = 32;
export const FILE_ID_BYTES = 8;
export const TAG_BYTES = 16;
export const FILE_MAGIC = Buffer.from('FERRYDF2', 'ascii');
export const FILE_HEADER_BYTES = 24;
export const MANIFEST_MAGIC = Buffer.from('FERRYMF2', 'ascii');
export const MANIFEST_NONCE_BYTES = 12;
/** Files per folder under files/. */
const FILES_PER_FOLDER = 1000;
export const MAX_FILE_NUMBER = 9_999_999;

/** Entries a freshly formatted disk may hold; diskprep neither counts nor deletes them. */
export const SYSTEM_ENTRIES: ReadonlySet<string> = new Set([
  'lost+found',
  'System Volume Information',
  '$RECYCLE.BIN',
  '.Trashes',
  '.Spotlight-V100',
  '.fseventsd',
]);

/** The top-level staging folders whose files go onto disks, in the order diskprep lists them. */
export const CARRIED_FOLDERS = ['snapshots', 'index', 'data'] as const;

/** A file's last `segmentSize / TAIL_DIVISOR` bytes (4 KiB at 1 MiB) are always in an encrypted segment. */
const TAIL_DIVISOR = 256;
const SEGMENT_AAD_PREFIX = Buffer.from('ferry disk segment v2', 'ascii');
const MANIFEST_AAD_PREFIX = Buffer.from('ferry disk manifest v2', 'ascii');
const FILES_INFO = Buffer.from('ferry disk files v2', 'ascii');
const MANIFEST_INFO = Buffer.from('ferry disk manifest v2', 'ascii');
const FLAG_FINAL = 1;
const FLAG_ENCRYPTED = 2;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The relative path (with `/`) of file number `n` on a disk, e.g. `files/0001/00001000.fry`. */
export function diskFileName(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > MAX_FILE_NUMBER) throw new RangeError(`file number out of range: ${n}`);
  return `${FILES_FOLDER}/${String(Math.floor(n / FILES_PER_FOLDER)).padStart(4, '0')}/${String(n).padStart(8, '0')}.fry`;
}

/** The file number a name under files/ stands for, or undefined for any other name. */
export function fileNumberOf(relativePath: string): number | undefined {
  const match = /^files\/([0-9]{4})\/([0-9]{8})\.fry$/.exec(relativePath);
  if (!match) return undefined;
  const n = Number(match[2]);
  return diskFileName(n) === relativePath ? n : undefined;
}

/** Number of segments of a plaintext of `size` bytes: an empty file still has one. */
export function segmentCount(size: number, segmentSize: number): number {
  return Math.max(1, Math.ceil(size / segmentSize));
}

/** Bytes of the disk file for a staging file of `size` bytes: header, the bytes, one tag per segment. */
export function encryptedSize(size: number, segmentSize: number): number {
  return FILE_HEADER_BYTES + size + TAG_BYTES * segmentCount(size, segmentSize);
}

/** Plaintext bytes of segment `index` of a file of `size` bytes. */
export function segmentLength(size: number, segmentSize: number, index: number): number {
  return Math.min(segmentSize, size - index * segmentSize);
}

/**
 * Whether segment `index` of a file of `size` bytes is encrypted (section 5): the final segment, and any
 * segment holding one of the file's last `segmentSize / 256` bytes. The others are only authenticated.
 */
export function isEncryptedSegment(size: number, segmentSize: number, index: number): boolean {
  const end = Math.min(size, (index + 1) * segmentSize);
  return end >= size || end > size - Math.floor(segmentSize / TAIL_DIVISOR);
}

/** The 24-byte header of a disk file. */
export function fileHeader(fileId: Uint8Array, segmentSize: number): Buffer {
  if (fileId.length !== FILE_ID_BYTES) throw new RangeError(`a file id has ${FILE_ID_BYTES} bytes`);
  const header = Buffer.alloc(FILE_HEADER_BYTES);
  FILE_MAGIC.copy(header, 0);
  header.set(fileId, 8);
  header.writeUInt32BE(segmentSize, 16);
  return header;
}

/** Reads a header; IntegrityError when it is not one (or one of another format version). */
export function parseFileHeader(header: Uint8Array): { fileId: Buffer; segmentSize: number } {
  const bytes = Buffer.from(header.buffer, header.byteOffset, header.byteLength);
  if (bytes.length < FILE_HEADER_BYTES || !bytes.subarray(0, 8).equals(FILE_MAGIC)) {
    const version = /^FERRYDF([0-9])$/.exec(bytes.subarray(0, 8).toString('latin1'))?.[1];
    throw new IntegrityError(version === undefined ? 'not a Ferry disk file (bad magic)' : `a Ferry disk file of format version ${version}; this Ferry reads version ${DISK_FORMAT_VERSION}`);
  }
  if (bytes.readUInt32BE(20) !== 0) throw new IntegrityError('unknown Ferry disk file header (reserved field set)');
  return { fileId: Buffer.from(bytes.subarray(8, 16)), segmentSize: bytes.readUInt32BE(16) };
}

/** The nonce of segment `index`: file id ‖ u32be index. */
export function segmentNonce(fileId: Uint8Array, index: number): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.set(fileId, 0);
  nonce.writeUInt32BE(index, 8);
  return nonce;
}

/**
 * The associated data of segment `index` (before its bytes, for a segment that is only authenticated):
 * binds the disk, the position, the end of the file, whether the segment is encrypted, and the path.
 */
export function segmentAad(diskId: string, index: number, final: boolean, encrypted: boolean, path: string): Buffer {
  const pathBytes = Buffer.from(path, 'utf8');
  if (pathBytes.length > 0xffff) throw new RangeError('a staging path has at most 65535 bytes');
  const aad = Buffer.alloc(SEGMENT_AAD_PREFIX.length + 16 + 7 + pathBytes.length);
  let at = SEGMENT_AAD_PREFIX.copy(aad, 0);
  at += diskIdBytes(diskId).copy(aad, at);
  at = aad.writeUInt32BE(index, at);
  at = aad.writeUInt8((final ? FLAG_FINAL : 0) | (encrypted ? FLAG_ENCRYPTED : 0), at);
  at = aad.writeUInt16BE(pathBytes.length, at);
  pathBytes.copy(aad, at);
  return aad;
}

/** The associated data of the manifest. */
export function manifestAad(diskId: string): Buffer {
  return Buffer.concat([MANIFEST_AAD_PREFIX, diskIdBytes(diskId)]);
}

/** The 16 raw bytes of a disk id (a lowercase UUID); RangeError for anything else. */
export function diskIdBytes(diskId: string): Buffer {
  if (!UUID_PATTERN.test(diskId)) throw new RangeError(`not a disk id: ${JSON.stringify(diskId)}`);
  return Buffer.from(diskId.replaceAll('-', ''), 'hex');
}

export function isDiskId(value: string): boolean {
  return UUID_PATTERN.test(value);
}

/** The subkeys of a disk key (section 4): one for the files' segments, one for the manifest. */
export interface DiskSubkeys {
  readonly fileKey: Buffer;
  readonly manifestKey: Buffer;
}

export function deriveDiskSubkeys(diskKey: Uint8Array, diskId: string): DiskSubkeys {
  if (diskKey.length !== DISK_KEY_BYTES) throw new RangeError(`a disk key has ${DISK_KEY_BYTES} bytes, got ${diskKey.length}`);
  const salt = diskIdBytes(diskId);
  return {
    fileKey: Buffer.from(hkdfSync('sha256', diskKey, salt, FILES_INFO, 32)),
    manifestKey: Buffer.from(hkdfSync('sha256', diskKey, salt, MANIFEST_INFO, 32)),
  };
}

/** True for a staging path that may be on a disk: an object key under data/, index/ or snapshots/. */
export function isCarriedPath(path: string): boolean {
  if (path.length > 1024 || !/^(data|index|snapshots)\/[A-Za-z0-9._/-]+$/.test(path)) return false;
  return path.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..' && !segment.startsWith('.tmp-'));
}
