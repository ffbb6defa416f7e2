import { createHash, type Hash } from 'node:crypto';
import type { Id } from '../../core/ids.js';
import { DIRECT_ALIGN } from '../../os/direct-write.js';
import type { SealedBlobInfo, SealedBlobSink } from './blob-codec.js';
import { HEADER_BYTES, HEADER_BYTES_PER_BLOB, SLACK } from './pack-builder.js';
import { sealPackHeader, type PackedBlob } from './pack-format.js';

/**
 * Where a {@link PackStream} sends a pack's bytes. `range`: the next `length` bytes of the open pack are
 * `ring[offset, offset + length)`; once they are written, the receiver gives `release` bytes of the ring
 * back ({@link PackStream.release}), in the order the ranges came. `sealed`: the open pack is complete
 * (its last range was sent): `length` bytes named `id`, holding `blobs`.
 */
export interface PackStreamOut {
  range(offset: number, length: number, release: number): void;
  sealed(id: Id, blobs: PackedBlob[], length: number): void;
}

/** Ranges are sent once this many bytes of a pack are ready (and at its end, and when the stream must wait). */
export const STREAM_SEGMENT = 1024 * 1024;
/** A pack's header bound must stay well within the ring: a pack of very many tiny blobs ends early. */
const MAX_HEADER_SHARE = 4;

/**
 * Data packs written as they fill: blobs are sealed straight into a ring of memory shared with the main
 * thread, which appends each range to the pack's object (Storage.begin) and gives the space back; the
 * SHA-256 that names the pack runs over the ranges as they are sent, and at the pack's end the sealed
 * header goes after the blobs. The pack bytes are those PackBuilder makes (same blob order, same end
 * rule), without a buffer of a pack's size: the ring bounds the bytes held, `ringBytes`.
 *
 * The ring is `ringBytes` long plus an overflow of `ring.length - ringBytes` bytes: a blob sealed near the
 * ring's end runs on into the overflow and that part is copied to the ring's start (so it is sealed in
 * one piece, never copied whole). A blob sealed larger than the overflow is sealed into a scratch buffer
 * and copied in as the ring has room ({@link pending}). Every pack starts on a {@link DIRECT_ALIGN}
 * boundary of the ring, so its ranges but the last are block-aligned in memory and in the pack (written
 * past the page cache). Pure and synchronous: the encoder worker drives it.
 */
export class PackStream implements SealedBlobSink<void> {
  /** Stream positions (bytes since the start, mod ringBytes in the ring): written, sent in ranges, released. */
  private written = 0;
  private sent = 0;
  private released = 0;
  /** Padding skipped before a pack, released with its first range. */
  private padding = 0;
  private open: { start: number; blobs: PackedBlob[]; size: number; hash: Hash } | undefined;
  /** A large blob being copied in from `scratch`: `done` of its bytes are in the ring. */
  private spill: { bytes: Buffer; done: number } | undefined;
  private scratch: Buffer = Buffer.alloc(0);
  /** Bytes of the ring in use at most so far (sent and not released, or not sent yet). */
  peakInUse = 0;
  /** The ring as a Buffer, for sealing into. */
  private readonly target: Buffer;

  constructor(
    private readonly encryptionKey: Uint8Array,
    private readonly packSize: number,
    private readonly ring: Uint8Array,
    private readonly ringBytes: number,
    private readonly out: PackStreamOut,
  ) {
    if (ringBytes % DIRECT_ALIGN !== 0 || ring.length < ringBytes) throw new RangeError('a pack stream ring must be whole blocks, within its buffer');
    this.target = Buffer.from(ring.buffer, ring.byteOffset, ring.byteLength);
    // The most a blob may need with the ring as empty as it gets (less than a block not sent yet): the
    // overflow, the open pack's largest header bound (see endsBefore) and the reserve's padding and next
    // header. A ring smaller than that would have a worker wait for room forever.
    const worstNeed = DIRECT_ALIGN + this.overflow() + ringBytes / MAX_HEADER_SHARE + DIRECT_ALIGN + this.headerBound(1);
    if (worstNeed > ringBytes) throw new RangeError(`a pack stream ring of ${ringBytes} bytes is too small for its ${this.overflow()}-byte overflow: it needs at least ${Math.ceil(worstNeed)}`);
  }

  /** The ring's bytes in use: sent and not released, or not sent yet. */
  get inUse(): number {
    return this.written - this.released;
  }

  /** True while a large blob is still being copied in: nothing else may be added until it is. */
  get busy(): boolean {
    return this.spill !== undefined;
  }

  /**
   * True when a blob of `bytes` sealed bytes can be added now; false when the caller must wait for
   * {@link release} (the ranges ready are sent first, so releases come).
   */
  hasRoomFor(bytes: number): boolean {
    if (this.spill) return this.pump();
    const need = Math.min(bytes, this.overflow()) + this.reserve(1);
    if (this.inUse + need <= this.ringBytes) return true;
    this.send('blocks');
    return false;
  }

  /** `bytes` of the ring were written by the receiver (in the order they were sent); copies a spill on. */
  release(bytes: number): void {
    this.released += bytes;
    if (this.released > this.sent) throw new Error(`released ${this.released} bytes of a pack stream, only ${this.sent} sent`);
  }

  /** Continues copying a large blob in; true once it is all in (the caller may add the next blob). */
  pump(): boolean {
    const spill = this.spill;
    if (!spill) return true;
    for (;;) {
      const room = this.ringBytes - this.inUse - this.headerBound(this.open!.blobs.length);
      const at = this.written % this.ringBytes;
      const n = Math.min(room, this.ringBytes - at, spill.bytes.length - spill.done);
      if (n <= 0) break;
      this.ring.set(spill.bytes.subarray(spill.done, spill.done + n), at);
      spill.done += n;
      this.advance(n);
    }
    if (spill.done < spill.bytes.length) {
      this.send('blocks');
      return false;
    }
    this.spill = undefined;
    this.afterBlob();
    return true;
  }

  /** Appends a blob sealed by `seal`. The caller checked {@link hasRoomFor} (and {@link busy}). */
  addSealed(blob: SealedBlobInfo, seal: (target: Buffer, offset: number) => number): void {
    if (this.spill) throw new Error('a blob added while a large one is still being copied in');
    const open = this.open;
    if (open && this.endsBefore(open.size, open.blobs.length, blob.length)) this.finish();
    const pack = this.startPack();
    const { type, id, compression, rawLength, length } = blob;
    pack.blobs.push({ type, id, compression, rawLength, length, offset: pack.size });
    if (length > this.overflow()) {
      // Too large to seal in place at any position: sealed aside, copied in as the ring has room.
      if (this.scratch.length < length) this.scratch = Buffer.allocUnsafeSlow(length);
      const written = seal(this.scratch, 0);
      if (written !== length) throw new Error(`sealed ${written} bytes, expected ${length}`);
      this.spill = { bytes: this.scratch.subarray(0, length), done: 0 };
      this.pump();
      return;
    }
    const at = this.written % this.ringBytes;
    const written = seal(this.target, at);
    if (written !== length) throw new Error(`sealed ${written} bytes, expected ${length}`);
    // The part sealed past the ring's end goes to its start (free: the room was checked).
    if (at + length > this.ringBytes) this.ring.copyWithin(0, this.ringBytes, at + length);
    this.advance(length);
    this.afterBlob();
  }

  /** Ends the open pack, if any: its header after its blobs, the rest of its bytes sent, then `sealed`. */
  finish(): void {
    if (this.spill) throw new Error('a pack finished while a large blob is still being copied in');
    const open = this.open;
    if (!open) return;
    const header = sealPackHeader(this.encryptionKey, open.blobs);
    // Room for it was kept (see reserve).
    for (let done = 0; done < header.length; ) {
      const at = this.written % this.ringBytes;
      const n = Math.min(header.length - done, this.ringBytes - at);
      this.ring.set(header.subarray(done, done + n), at);
      done += n;
      this.advance(n);
    }
    this.send('all');
    this.open = undefined;
    this.out.sealed(open.hash.digest('hex') as Id, open.blobs, open.size);
  }

  private afterBlob(): void {
    const open = this.open!;
    if (open.size >= this.packSize) this.finish();
    else this.send('segment');
  }

  /** As PackBuilder: a pack ends before a blob that would take it past its size and slack; also before its header grows too large. */
  private endsBefore(size: number, blobs: number, bytes: number): boolean {
    if (size === 0) return false;
    if (this.headerBound(blobs + 1) > this.ringBytes / MAX_HEADER_SHARE) return true;
    return bytes < this.packSize && size + bytes + HEADER_BYTES + HEADER_BYTES_PER_BLOB * (blobs + 1) > this.packSize + SLACK;
  }

  private startPack(): NonNullable<PackStream['open']> {
    if (this.open) return this.open;
    this.padding = (DIRECT_ALIGN - (this.written % DIRECT_ALIGN)) % DIRECT_ALIGN;
    this.written += this.padding;
    this.sent = this.written;
    this.open = { start: this.written, blobs: [], size: 0, hash: createHash('sha256') };
    return this.open;
  }

  private advance(bytes: number): void {
    this.written += bytes;
    this.open!.size += bytes;
    this.peakInUse = Math.max(this.peakInUse, this.inUse);
  }

  /**
   * Sends the pack's bytes written and not sent: `all` of them (its end), or its whole blocks, at once
   * (`blocks`: the stream must wait for room) or once a {@link STREAM_SEGMENT} is ready (`segment`).
   */
  private send(what: 'all' | 'blocks' | 'segment'): void {
    const end = what === 'all' ? this.written : this.written - (this.written % DIRECT_ALIGN);
    if (end <= this.sent) return;
    if (what === 'segment' && end - this.sent < STREAM_SEGMENT) return;
    const open = this.open!;
    while (this.sent < end) {
      const at = this.sent % this.ringBytes;
      const n = Math.min(end - this.sent, this.ringBytes - at);
      const bytes = this.ring.subarray(at, at + n);
      open.hash.update(bytes);
      this.out.range(at, n, n + this.padding);
      this.padding = 0;
      this.sent += n;
    }
  }

  /** Room kept free beyond a blob: its pack's header and the next pack's padding and header, so finishing never waits. */
  private reserve(extraBlobs: number): number {
    return this.headerBound((this.open?.blobs.length ?? 0) + extraBlobs) + DIRECT_ALIGN + this.headerBound(1);
  }

  private headerBound(blobs: number): number {
    return HEADER_BYTES + HEADER_BYTES_PER_BLOB * blobs;
  }

  /** The largest blob sealed in place: the overflow past the ring's end. */
  private overflow(): number {
    return this.ring.length - this.ringBytes;
  }
}
