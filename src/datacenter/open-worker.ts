// An ingest worker (open-pool.ts): reads, authenticates and decrypts the disk files the main
// thread asks for, and answers each plaintext without copying it (a view of the pool's shared memory, or moved).
import { parentPort } from 'node:worker_threads';
import { openDiskFile, type OpenedFile, type OpenFileRequest } from './disk-file-opener.js';

/** A request of the pool: an id and the file to open. */
export interface OpenMessage {
  readonly id: number;
  readonly request: OpenFileRequest;
}

/** The answer: the outcome, or the message of an unexpected error (a bug, not a file's problem). */
export type OpenAnswer = { readonly id: number; readonly outcome: OpenedFile } | { readonly id: number; readonly crash: string };

const port = parentPort;
if (port) {
  port.on('message', (message: OpenMessage) => {
    openDiskFile(message.request).then(
      // A plaintext in the pool's shared memory is answered as a view of it; memory of its own is moved.
      (outcome) => port.postMessage({ id: message.id, outcome } satisfies OpenAnswer, outcome.ok && outcome.plaintext.buffer instanceof ArrayBuffer && outcome.plaintext.buffer.byteLength > 0 ? [outcome.plaintext.buffer] : []),
      (err: unknown) => port.postMessage({ id: message.id, crash: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies OpenAnswer),
    );
  });
}
