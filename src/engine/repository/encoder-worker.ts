import { parentPort, workerData } from 'node:worker_threads';
import { BlobCodec } from '../pack/blob-codec.js';
import { PackBuilder, type FinishedPack } from '../pack/pack-builder.js';
import type { EncoderSetup, FromEncoder, PackMessage, ToEncoder } from './encoder-protocol.js';

/**
 * Worker thread: compresses and seals blobs and packs them (see EncoderPool). Each finished pack goes
 * back to the main thread, which saves it.
 */
const setup = workerData as EncoderSetup;
const codec = new BlobCodec(setup.encryptionKey, setup.compressionLevel);
const builder = new PackBuilder(setup.encryptionKey, setup.packSize);
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
    if (message.kind === 'flush') {
      const packs = builder.finishAll();
      send({ kind: 'flushed', packs: packs.map(toMessage) });
      return;
    }
    const packs: FinishedPack[] = [];
    let bytes = 0;
    for (const job of message.jobs) {
      bytes += job.length;
      const finished = builder.add(codec.encode(job.type, job.id, message.data.subarray(job.offset, job.offset + job.length)));
      if (finished) packs.push(finished);
    }
    send({ kind: 'done', blobs: message.jobs.length, bytes, packs: packs.map(toMessage) });
  } catch (err) {
    port.postMessage({ kind: 'error', message: err instanceof Error ? err.message : String(err) } satisfies FromEncoder);
  }
});
