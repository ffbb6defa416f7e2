import { parentPort, workerData } from 'node:worker_threads';
import type { Id } from '../../core/ids.js';
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

function bytesOf(job: BlobJob): Uint8Array {
  return job.data ?? ring.subarray(job.offset, job.offset + job.length);
}
/**
 * Pack buffers handed back by the main thread. All are kept: the pool bounds the packs a worker has out
 * (see EncoderPool), so the buffers a worker ever allocates are few, and reusing them spares the page
 * faults of new ones and the garbage collector's work on dropped ones.
 */
const spare: ArrayBuffer[] = [];
const MAX_SPARE = 4;
/** Tree packs start small; only data packs take recycled (pack-sized) buffers. */
const RECYCLE_MIN_BYTES = 1024 * 1024;
const builder = new PackBuilder(setup.encryptionKey, setup.packSize, (bytes) => {
  if (bytes >= RECYCLE_MIN_BYTES) {
    const at = spare.findIndex((b) => b.byteLength >= bytes);
    if (at >= 0) return Buffer.from(spare.splice(at, 1)[0]!);
  }
  return Buffer.allocUnsafeSlow(bytes);
});
const port = parentPort!;

function send(message: FromEncoder): void {
  const transfer = 'packs' in message ? message.packs.map((p) => p.bytes.buffer as ArrayBuffer) : [];
  port.postMessage(message, transfer);
}

function toMessage(pack: FinishedPack): PackMessage {
  return { id: pack.id, bytes: pack.bytes, blobs: pack.blobs };
}

port.on('message', (message: ToEncoder) => {
  try {
    if (message.kind === 'recycle') {
      if (spare.length < MAX_SPARE && message.buffer.byteLength >= RECYCLE_MIN_BYTES) spare.push(message.buffer);
      return;
    }
    if (message.kind === 'flush') {
      const packs = builder.finishAll();
      send({ kind: 'flushed', packs: packs.map(toMessage) });
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
    const packs: FinishedPack[] = [];
    for (const [i, job] of batch.jobs.entries()) {
      if (!message.encode[i]) continue;
      const finished = codec.encodeInto(builder, job.type, batch.ids[i]!, bytesOf(job));
      if (finished) packs.push(finished);
    }
    send({ kind: 'done', packs: packs.map(toMessage) });
  } catch (err) {
    port.postMessage({ kind: 'error', message: err instanceof Error ? err.message : String(err) } satisfies FromEncoder);
  }
});
