import { parentPort, workerData } from 'node:worker_threads';
import { IntegrityError } from '../../core/errors.js';
import { BlobCodec } from '../pack/blob-codec.js';
import { transferable, type DecodeReply, type DecodeRequest, type DecoderSetup } from './decoder-protocol.js';

/** Worker thread: authenticates, decrypts and decompresses blobs for the main thread (see DecoderPool). */
const codec = new BlobCodec((workerData as DecoderSetup).encryptionKey);
const port = parentPort!;

port.on('message', (request: DecodeRequest) => {
  let reply: DecodeReply;
  try {
    const data = transferable(codec.decode(request.type, request.id, request.sealed, request.compression, request.rawLength));
    reply = { seq: request.seq, data };
    port.postMessage(reply, [data.buffer as ArrayBuffer]);
  } catch (err) {
    reply = { seq: request.seq, error: err instanceof Error ? err.message : String(err), integrity: err instanceof IntegrityError };
    port.postMessage(reply);
  }
});
