import { parentPort, workerData } from 'node:worker_threads';
import { IntegrityError } from '../../core/errors.js';
import { BlobCodec } from '../pack/blob-codec.js';
import type { DecodeReply, DecoderSetup, ToDecoder } from './decoder-protocol.js';

/**
 * Worker thread: authenticates, decrypts and decompresses blobs for the main thread (see DecoderPool).
 * Each blob is decoded into a buffer the main thread handed back after writing an earlier one, when one
 * is large enough, so a restore does not allocate (and fault in) a new buffer per blob.
 */
const codec = new BlobCodec((workerData as DecoderSetup).encryptionKey);
const port = parentPort!;
/** Buffers handed back, at most this many bytes of them kept. */
const SPARE_BYTES = 32 * 1024 * 1024;
const spare: ArrayBuffer[] = [];
let spareBytes = 0;

function target(bytes: number): Buffer {
  const at = spare.findIndex((b) => b.byteLength >= bytes);
  if (at >= 0) {
    const buffer = spare.splice(at, 1)[0]!;
    spareBytes -= buffer.byteLength;
    return Buffer.from(buffer);
  }
  // Rounded up, so a buffer handed back serves blobs of other sizes too.
  return Buffer.allocUnsafeSlow(2 ** Math.ceil(Math.log2(Math.max(bytes, 64 * 1024))));
}

port.on('message', (request: ToDecoder) => {
  if (request.kind === 'recycle') {
    if (spareBytes + request.buffer.byteLength <= SPARE_BYTES) {
      spare.push(request.buffer);
      spareBytes += request.buffer.byteLength;
    }
    return;
  }
  let reply: DecodeReply;
  try {
    const out = target(request.rawLength);
    const data = codec.decodeInto(request.type, request.id, request.sealed, request.compression, request.rawLength, out);
    reply = { seq: request.seq, data };
    port.postMessage(reply, [data.buffer as ArrayBuffer]);
  } catch (err) {
    reply = { seq: request.seq, error: err instanceof Error ? err.message : String(err), integrity: err instanceof IntegrityError };
    port.postMessage(reply);
  }
});
