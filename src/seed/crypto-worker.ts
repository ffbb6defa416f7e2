// A crypto worker of diskprep (crypto-pool.ts): answers each request of the main thread with the
// CryptoHandler, moving the big buffers back instead of copying them.
import { parentPort } from 'node:worker_threads';
import { IntegrityError } from '../core/errors.js';
import { CryptoHandler } from './crypto-handler.js';
import { movableBuffers, type CryptoReply, type CryptoRequest, type SealReply } from './crypto-protocol.js';

const handler = new CryptoHandler();
const port = parentPort!;

port.on('message', (request: CryptoRequest) => {
  void answer(request).then((reply) => port.postMessage(reply, reply.kind === 'sealed' ? sealedBuffers(reply) : []));
});

async function answer(request: CryptoRequest): Promise<CryptoReply> {
  try {
    return request.kind === 'seal' ? handler.seal(request) : await handler.verify(request);
  } catch (err) {
    return { kind: 'failed', id: request.id, message: err instanceof Error ? err.message : String(err), integrity: err instanceof IntegrityError };
  }
}

/** What a sealed reply moves back: the request's whole read buffer (it came here moved), and the new buffers that can be. */
function sealedBuffers(reply: SealReply): ArrayBuffer[] {
  const moved = new Set(movableBuffers([reply.tags, ...reply.encrypted]));
  if (reply.data.buffer instanceof ArrayBuffer) moved.add(reply.data.buffer);
  return [...moved];
}
