import { createHash, type Hash } from 'node:crypto';
import { join } from 'node:path';
import { IntegrityError, isErrno, withContext } from '../core/errors.js';
import { allocateDirectRead, DirectReadFile, directReadSpan } from '../os/direct-read.js';
import type { SealReply, SealRequest, VerifyReply, VerifyRequest } from './crypto-protocol.js';
import { diskFileName, encryptedSize, FILE_HEADER_BYTES, parseFileHeader, segmentCount, segmentLength, TAG_BYTES } from './disk-format.js';
import type { FileCheck } from './disk-types.js';
import type { ManifestEntry } from './manifest.js';
import { readAhead } from './read-ahead.js';
import { openRecord, sealSegment, segmentPlace } from './segment-crypto.js';

const READ_DEPTH = 2;
/** Read buffers kept for reuse per handler (enough for a few files verified at once). */
const MAX_FREE_BUFFERS = 8;

/**
 * The crypto work of diskprep, run by each crypto worker (or in the calling thread): protecting runs of
 * segments while hashing their file, and verifying whole files of a disk. Keeps the hash state of the
 * files whose runs it is given; runs of one file must come to one handler, in order.
 */
export class CryptoHandler {
  private readonly hashes = new Map<number, Hash>();
  /**
   * Free read buffers of verification, reused from read to read and file to file (several files may be
   * verified at once): fresh buffers per read would be mapped, faulted in and collected each time.
   */
  private readonly freeBuffers: Buffer[] = [];

  seal(request: SealRequest): SealReply {
    const { data, segmentSize, first } = request;
    let hash = this.hashes.get(request.file);
    if (first === 0 || !hash) this.hashes.set(request.file, (hash = createHash('sha256')));
    hash.update(data);
    const count = data.length === 0 ? 1 : Math.ceil(data.length / segmentSize);
    // Its own memory, so that it moves back to the main thread instead of being copied with a pool.
    const tags = Buffer.allocUnsafeSlow(TAG_BYTES * count);
    const encrypted: Uint8Array[] = [];
    for (let k = 0; k < count; k++) {
      const place = segmentPlace(request, segmentSize, first + k);
      const { body, tag } = sealSegment(request.fileKey, data.subarray(k * segmentSize, Math.min(data.length, (k + 1) * segmentSize)), place);
      if (place.encrypted) encrypted.push(body);
      tag.copy(tags, k * TAG_BYTES);
    }
    const reply = { kind: 'sealed', id: request.id, data, tags, encrypted } as const;
    if (first + count < segmentCount(request.size, segmentSize)) return reply;
    this.hashes.delete(request.file);
    return { ...reply, sha256: hash.digest('hex') };
  }

  /** Presence, size, header and every segment's authentication of one file of a disk. */
  async verify(request: VerifyRequest): Promise<VerifyReply> {
    const { entry, segmentSize } = request;
    const name = join(request.disk, diskFileName(entry.n));
    const result = (status: FileCheck['status'], bytes = 0, more: Partial<FileCheck> = {}): VerifyReply => ({
      kind: 'verified',
      id: request.id,
      check: { n: entry.n, path: entry.path, status, ...more },
      bytes,
    });
    let file: DirectReadFile;
    try {
      // Past the page cache: the bytes checked are the disk's own, not the cache's copy of what was just
      // written, and they land in the buffer without a copy (os/direct-read.ts).
      file = await DirectReadFile.open(name);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return result('missing');
      throw withContext(`opening ${name}`, err);
    }
    try {
      const shape = await checkShape(file, entry, segmentSize);
      if (shape === 'size') return result('wrong-size');
      if (shape === 'header') return result('bad-header');
      const segments = segmentCount(entry.size, segmentSize);
      const perRead = Math.max(1, Math.floor(request.readBytes / (segmentSize + TAG_BYTES)));
      const reads = function* (): Generator<{ first: number; count: number }> {
        for (let first = 0; first < segments; first += perRead) yield { first, count: Math.min(perRead, segments - first) };
      };
      const load = async (r: { first: number; count: number }): Promise<{ whole: Buffer; records: Buffer }> => {
        const offset = FILE_HEADER_BYTES + r.first * (segmentSize + TAG_BYTES);
        const last = r.first + r.count - 1;
        const length = (last - r.first) * (segmentSize + TAG_BYTES) + segmentLength(entry.size, segmentSize, last) + TAG_BYTES;
        // A pooled buffer; only the records read are checked.
        const whole = this.takeBuffer(length);
        try {
          return { whole, records: await file.read(whole, offset, length) };
        } catch (err) {
          this.giveBack(whole);
          throw err;
        }
      };
      const bad: number[] = [];
      let bytes = 0;
      const place = { diskId: request.diskId, path: entry.path, fileId: shape.fileId, size: entry.size };
      for await (const { request: r, outcome } of readAhead(reads(), READ_DEPTH, load)) {
        if (!outcome.ok) throw withContext(`reading ${name}`, outcome.error);
        const { whole, records } = outcome.data;
        let at = 0;
        for (let index = r.first; index < r.first + r.count; index++) {
          const length = segmentLength(entry.size, segmentSize, index) + TAG_BYTES;
          try {
            bytes += openRecord(request.fileKey, records.subarray(at, at + length), segmentPlace(place, segmentSize, index)).length;
          } catch (err) {
            if (!(err instanceof IntegrityError)) throw err;
            bad.push(index);
          }
          at += length;
        }
        this.giveBack(whole);
      }
      // No SHA-256 here: a segment that authenticates holds the very bytes that were hashed while copying.
      if (bad.length > 0) return result('damaged', bytes, { badSegments: bad, detail: `segments ${bad.join(', ')} of ${segments} do not authenticate` });
      return result('ok', bytes);
    } finally {
      await file.close();
    }
  }

  /** A free read buffer for reads of up to `length` bytes (os/direct-read.ts: aligned, with room to widen the read). */
  private takeBuffer(length: number): Buffer {
    const at = this.freeBuffers.findIndex((b) => b.length >= directReadSpan(length));
    return at >= 0 ? this.freeBuffers.splice(at, 1)[0]! : allocateDirectRead(length);
  }

  private giveBack(buffer: Buffer): void {
    if (this.freeBuffers.length < MAX_FREE_BUFFERS) this.freeBuffers.push(buffer);
  }
}

/** The file id when size and header are right, else which of them is wrong. */
async function checkShape(file: DirectReadFile, entry: ManifestEntry, segmentSize: number): Promise<{ fileId: Buffer } | 'size' | 'header'> {
  if ((await file.size()) !== encryptedSize(entry.size, segmentSize)) return 'size';
  const header = await file.read(allocateDirectRead(FILE_HEADER_BYTES), 0, FILE_HEADER_BYTES);
  try {
    const parsed = parseFileHeader(header);
    if (parsed.segmentSize !== segmentSize || parsed.fileId.toString('hex') !== entry.fileId) return 'header';
    return { fileId: parsed.fileId };
  } catch (err) {
    if (!(err instanceof IntegrityError)) throw err;
    return 'header';
  }
}
