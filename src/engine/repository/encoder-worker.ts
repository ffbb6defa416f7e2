import { parentPort, workerData } from 'node:worker_threads';
import type { Id } from '../../core/ids.js';
import { DIRECT_ALIGN, alignedView, allocateAligned } from '../../os/direct-write.js';
import { SEAL_OVERHEAD } from '../crypto/aead.js';
import { ContentHasher } from '../crypto/content-id.js';
import { BlobCodec } from '../pack/blob-codec.js';
import { PackBuilder, type FinishedPack } from '../pack/pack-builder.js';
import type { BlobJob, EncoderSetup, FromEncoder, PackMessage, ToEncoder } from './encoder-protocol.js';

/**
 * Worker thread: hashes blobs, then compresses and seals the ones the main thread did not know and packs
 * them (see EncoderPool). Blobs are read in place from the shared ring; each is compressed into a reused
 * scratch buffer and sealed straight into its pack. Finished packs go to the main thread, which saves
 * them and sends their buffers back.
 */
const setup = workerData as EncoderSetup;
const ring = new Uint8Array(setup.ring);
const codec = new BlobCodec(setup.encryptionKey, setup.compressionLevel);
const hasher = new ContentHasher(setup.contentIdKey);
/** Batches hashed and waiting for their encode decision, oldest first, with their ids. */
const hashed: { jobs: BlobJob[]; ids: Id[] }[] = [];
/** Batches to encode, oldest first; the first may be part done (waiting for a pack buffer, see {@link mustWait}). */
const encoding: { jobs: BlobJob[]; ids: Id[]; encode: readonly boolean[]; next: number }[] = [];
let flushAsked = false;

function bytesOf(job: BlobJob): Uint8Array {
  return job.data ?? ring.subarray(job.offset, job.offset + job.length);
}
/**
 * Pack buffers handed back by the main thread. All are kept: the worker bounds its data pack buffers
 * (see {@link mustWait}), so the buffers it ever allocates are few, and reusing them spares the page
 * faults of new ones and the garbage collector's work on dropped ones.
 */
const spare: ArrayBuffer[] = [];
const MAX_SPARE = 4;
/** Tree packs start small; only data packs take recycled (pack-sized) buffers. */
const RECYCLE_MIN_BYTES = 1024 * 1024;
/**
 * Data packs handed to the main thread whose buffers have not come back. With one out, the worker starts
 * its next pack in a second buffer; it starts a third pack only once a buffer came back, so it holds
 * two pack buffers, not one per pack the saves fall behind. Meanwhile the main thread keeps filling
 * the ring, which covers a pack's save (write and sync) for most of its time.
 */
let packsOut = 0;
const MAX_PACKS_OUT = 1;
// Pack buffers start on a block boundary, so FsStorage writes them past the page cache (os/direct-write.ts).
const builder = new PackBuilder(setup.encryptionKey, setup.packSize, (bytes) => {
  if (bytes >= RECYCLE_MIN_BYTES) {
    const at = spare.findIndex((b) => b.byteLength >= bytes + DIRECT_ALIGN);
    if (at >= 0) return alignedView(spare.splice(at, 1)[0]!);
  }
  return allocateAligned(bytes);
});
const port = parentPort!;

function send(message: FromEncoder): void {
  const transfer = 'packs' in message ? message.packs.map((p) => p.bytes.buffer as ArrayBuffer) : [];
  if ('packs' in message) for (const pack of message.packs) if (pack.bytes.buffer.byteLength >= RECYCLE_MIN_BYTES) packsOut++;
  port.postMessage(message, transfer);
}

function toMessage(pack: FinishedPack): PackMessage {
  return { id: pack.id, bytes: pack.bytes, blobs: pack.blobs };
}

/** True when the data blob `job` may start a pack while no buffer is at hand and one pack is out. */
function mustWait(job: BlobJob): boolean {
  return job.type === 'data' && packsOut >= MAX_PACKS_OUT && spare.length === 0 && builder.startsPack('data', job.length + SEAL_OVERHEAD);
}

/**
 * Encodes the batches decided so far, in order, answering `done` for each; stops before a blob that
 * must wait for a pack buffer (a `recycle` resumes it). A finished pack goes out at once, so its save
 * (which brings a buffer back) never waits for the rest of its batch.
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
      const finished = codec.encodeInto(builder, job.type, batch.ids[i]!, bytesOf(job));
      if (finished) send({ kind: 'packed', packs: [toMessage(finished)] });
    }
    encoding.shift();
    send({ kind: 'done' });
  }
  if (flushAsked) {
    flushAsked = false;
    send({ kind: 'flushed', packs: builder.finishAll().map(toMessage) });
  }
}

port.on('message', (message: ToEncoder) => {
  try {
    if (message.kind === 'recycle') {
      if (message.buffer.byteLength >= RECYCLE_MIN_BYTES) {
        packsOut--;
        if (spare.length < MAX_SPARE) spare.push(message.buffer);
      }
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
    encoding.push({ ...batch, encode: message.encode, next: 0 });
    encodePending();
  } catch (err) {
    port.postMessage({ kind: 'error', message: err instanceof Error ? err.message : String(err) } satisfies FromEncoder);
  }
});
