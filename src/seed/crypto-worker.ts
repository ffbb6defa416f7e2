// A crypto worker of diskprep (crypto-pool.ts): answers each request of the main thread with the
// CryptoHandler, moving the big buffers back instead of copying them.
import { parentPort } from 'node:worker_threads';
import { IntegrityError } from '../core/errors.js';
import { CryptoHandler } from './crypto-handler.js';
import { movableBuffers, type CryptoReply, type CryptoRequest } from './crypto-protocol.js';

const handler = new CryptoHandler();
const port = parentPort!;

port.on('message', (request: CryptoRequest) => {
  void answer(request).then((reply) => port.postMessage(reply, reply.kind === 'sealed' ? movableBuffers([reply.data, reply.tags, ...reply.encrypted]) : []));
});

async function answer(request: CryptoRequest): Promise<CryptoReply> {
  try {
    return request.kind === 'seal' ? handler.seal(request) : await handler.verify(request);
  } catch (err) {
    return { kind: 'failed', id: request.id, message: err instanceof Error ? err.message : String(err), integrity: err instanceof IntegrityError };
  }
}
