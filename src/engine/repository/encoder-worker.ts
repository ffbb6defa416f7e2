import { parentPort, workerData } from 'node:worker_threads';
import type { Id } from '../../core/ids.js';
import { SEAL_OVERHEAD } from '../crypto/aead.js';
import { ContentHasher } from '../crypto/content-id.js';
import { BlobCodec } from '../pack/blob-codec.js';
import { PackBuilder, type FinishedPack } from '../pack/pack-builder.js';
import { PackStream } from '../pack/pack-stream.js';
import type { BlobJob, EncoderSetup, FromEncoder, PackMessage, ToEncoder } from './encoder-protocol.js';

/**
 * Worker thread: hashes blobs, then compresses and seals the ones the main thread did not know and packs
 * them (see EncoderPool). Blobs are read in place from the shared ring; each is compressed into a reused
 * scratch buffer and sealed straight into its pack: a data pack's bytes go into a second shared ring, from
 * which the main thread appends them to the pack's object as it fills (PackStream), a tree pack's into a
 * buffer of its own, transferred to the main thread when complete.
 */
const setup = workerData as EncoderSetup;
const ring = new Uint8Array(setup.ring);
const codec = new BlobCodec(setup.encryptionKey, setup.compressionLevel);
const hasher = new ContentHasher(setup.contentIdKey);
/** Batches hashed and waiting for their encode decision, oldest first, with their ids. */
const hashed: HashedBatch[] = [];
/** Batches to encode, oldest first; the first may be part done (waiting for room in the stream, see {@link mustWait}). */
const encoding: EncodingBatch[] = [];
let flushAsked = false;

interface HashedBatch {
  readonly jobs: BlobJob[];
  readonly ids: Id[];
}
/** One shape for every batch (a spread per batch gave each its own hidden class in this isolate). */
interface EncodingBatch {
  readonly jobs: BlobJob[];
  readonly ids: Id[];
  readonly encode: readonly boolean[];
  next: number;
}

function bytesOf(job: BlobJob): Uint8Array {
  return job.data ?? ring.subarray(job.offset, job.offset + job.length);
}

// Tree packs are small and whole (they start at 256 KiB and grow); their buffers start on a block boundary.
const builder = new PackBuilder(setup.encryptionKey, setup.packSize);
/** Data packs are written as they fill, through the ring shared with the main thread (see PackStream). */
const stream = new PackStream(setup.encryptionKey, setup.packSize, new Uint8Array(setup.outRing, setup.outOffset, setup.outLength), setup.outRingBytes, {
  range: (offset, length, release) => send({ kind: 'range', offset, length, release }),
  sealed: (id, blobs, length) => send({ kind: 'sealed', id, blobs, length }),
});
const port = parentPort!;

function send(message: FromEncoder): void {
  port.postMessage(message, 'packs' in message ? message.packs.map((p) => p.bytes.buffer as ArrayBuffer) : []);
}

function toMessage(pack: FinishedPack): PackMessage {
  return { id: pack.id, bytes: pack.bytes, blobs: pack.blobs };
}

/**
 * True when the data blob `job` must wait for the main thread to write out part of the stream's ring
 * (a `released` resumes it): a large blob is still being copied in, or there is no room for this one
 * (its sealed length is at most its raw length plus the seal).
 */
function mustWait(job: BlobJob): boolean {
  if (job.type !== 'data') return false;
  if (stream.busy && !stream.pump()) return true;
  return !stream.hasRoomFor(job.length + SEAL_OVERHEAD);
}

/**
 * Encodes the batches decided so far, in order, answering `done` for each; stops before a data blob that
 * must wait for room in the stream's ring. A finished tree pack goes out at once.
 */
function encodePending(): void {
  while (encoding.length > 0) {
    const batch = encoding[0]!;
    while (batch.next < batch.jobs.length) {
      const i = batch.next;
      const job = batch.jobs[i]!;
      if (batch.encode[i] && mustWait(job)) return;
      batch.next++;
      if (!batch.encode[i]) continue;
      if (job.type === 'data') {
        codec.encodeInto(stream, job.type, batch.ids[i]!, bytesOf(job));
        continue;
      }
      const finished = codec.encodeInto(builder, job.type, batch.ids[i]!, bytesOf(job));
      if (finished) send({ kind: 'packed', packs: [toMessage(finished)] });
    }
    encoding.shift();
    send({ kind: 'done' });
  }
  if (flushAsked) {
    // A large blob still being copied in ends the data pack once it is in.
    if (stream.busy && !stream.pump()) return;
    flushAsked = false;
    stream.finish();
    send({ kind: 'flushed', packs: builder.finishAll().map(toMessage) });
  }
}

port.on('message', (message: ToEncoder) => {
  try {
    if (message.kind === 'released') {
      stream.release(message.bytes);
      encodePending();
      return;
    }
    if (message.kind === 'flush') {
      flushAsked = true;
      encodePending();
      return;
    }
    if (message.kind === 'hash') {
      const ids = message.jobs.map((job) => job.id ?? hasher.idOf(job.type, bytesOf(job)));
      hashed.push({ jobs: message.jobs, ids });
      send({ kind: 'hashed', ids });
      return;
    }
    const batch = hashed.shift();
    if (!batch) throw new Error('encode without a hashed batch');
    encoding.push({ jobs: batch.jobs, ids: batch.ids, encode: message.encode, next: 0 });
    encodePending();
  } catch (err) {
    port.postMessage({ kind: 'error', message: err instanceof Error ? err.message : String(err) } satisfies FromEncoder);
  }
});
