import { parentPort, workerData } from 'node:worker_threads';
import { BlobCodec } from '../pack/blob-codec.js';
import { PackBuilder, type FinishedPack } from '../pack/pack-builder.js';
import type { EncoderSetup, FromEncoder, PackMessage, ToEncoder } from './encoder-protocol.js';

/**
 * Worker thread: compresses and seals blobs and packs them (see EncoderPool). Blobs are read in place
 * from the shared ring; each is compressed into a reused scratch buffer and sealed straight into its
 * pack. Finished packs go to the main thread, which saves them and sends their buffers back.
 */
const setup = workerData as EncoderSetup;
const ring = new Uint8Array(setup.ring);
const codec = new BlobCodec(setup.encryptionKey, setup.compressionLevel);
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
    const packs: FinishedPack[] = [];
    for (const job of message.jobs) {
      const plaintext = job.data ?? ring.subarray(job.offset, job.offset + job.length);
      const finished = codec.encodeInto(builder, job.type, job.id, plaintext);
      if (finished) packs.push(finished);
    }
    send({ kind: 'done', packs: packs.map(toMessage) });
  } catch (err) {
    port.postMessage({ kind: 'error', message: err instanceof Error ? err.message : String(err) } satisfies FromEncoder);
  }
});
