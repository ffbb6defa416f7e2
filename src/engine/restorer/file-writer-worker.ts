import { parentPort, workerData } from 'node:worker_threads';
import { FileWriterCore } from './file-writer-core.js';
import type { BatchRequest, FileWriterSetup } from './file-writer-protocol.js';

/** Worker thread: decodes blobs and writes restored files (see FileWriters and FileWriterCore). */
const port = parentPort!;
const setup = workerData as FileWriterSetup;
const core = new FileWriterCore(setup.encryptionKey, (reply) => port.postMessage(reply, reply.buffers), setup.writeBehind);
port.on('message', (batch: BatchRequest) => core.submit(batch));
