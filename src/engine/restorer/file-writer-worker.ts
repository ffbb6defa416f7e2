import { parentPort, workerData } from 'node:worker_threads';
import { FileWriterCore } from './file-writer-core.js';
import type { BatchRequest, FileWriterSetup } from './file-writer-protocol.js';

/** Worker thread: decodes blobs and writes restored files with synchronous calls (see FileWriters). */
const port = parentPort!;
const core = new FileWriterCore((workerData as FileWriterSetup).encryptionKey);
port.on('message', (batch: BatchRequest) => {
  const reply = core.handle(batch);
  port.postMessage(reply, reply.buffers);
});
