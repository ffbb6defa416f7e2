import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IntegrityError } from '../core/errors.js';
import { diskFileName, encryptedSize, FILE_HEADER_BYTES, parseFileHeader, segmentCount, segmentLength, TAG_BYTES } from './disk-format.js';
import type { ManifestEntry } from './manifest.js';
import { openRecord, segmentPlace } from './segment-crypto.js';

/**
 * The bytes of one file of a disk (a staging file), read whole: header, every segment authenticated,
 * size and SHA-256 as the manifest entry says. `IntegrityError` naming what is wrong otherwise.
 * For files of repository size (packs of ~16 MiB); verification of whole disks streams instead.
 */
export async function readDiskFile(disk: string, diskId: string, fileKey: Uint8Array, segmentSize: number, entry: ManifestEntry): Promise<Buffer> {
  const bytes = await readFile(join(disk, diskFileName(entry.n)));
  if (bytes.length !== encryptedSize(entry.size, segmentSize)) throw new IntegrityError(`${entry.path} on the disk has ${bytes.length} bytes, expected ${encryptedSize(entry.size, segmentSize)}`);
  const header = parseFileHeader(bytes);
  if (header.segmentSize !== segmentSize || header.fileId.toString('hex') !== entry.fileId) throw new IntegrityError(`${entry.path} on the disk has a header of another file`);
  const segments = segmentCount(entry.size, segmentSize);
  const parts: Uint8Array[] = [];
  const file = { diskId, path: entry.path, fileId: header.fileId, size: entry.size };
  let at = FILE_HEADER_BYTES;
  for (let index = 0; index < segments; index++) {
    const length = segmentLength(entry.size, segmentSize, index) + TAG_BYTES;
    parts.push(openRecord(fileKey, bytes.subarray(at, at + length), segmentPlace(file, segmentSize, index)));
    at += length;
  }
  const plaintext = Buffer.concat(parts);
  if (createHash('sha256').update(plaintext).digest('hex') !== entry.sha256) throw new IntegrityError(`${entry.path} on the disk does not have the SHA-256 its manifest says`);
  return plaintext;
}
