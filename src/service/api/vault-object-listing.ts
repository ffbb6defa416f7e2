/**
 * The body of a vault object listing: newline-delimited JSON written as the storage lists, with
 * backpressure, so a repository of 100k+ objects is never held in memory (docs/service-http-storage.md).
 *
 *   {"key":"data/ab/ab12…","size":16777216}     one line per object
 *   {"done":true,"count":2}                      last line of a complete listing
 *   {"error":{"code":"PERMANENT","message":"…"}} last line of a listing that failed after it started
 */
import { PassThrough } from 'node:stream';
import type { ObjectInfo } from '../../storage/storage.js';
import type { ApiErrorBody } from './error-handler.js';

/** Lines are written in batches of about this many bytes. */
const BATCH_BYTES = 64 * 1024;

/** Thrown into the listing when the client stopped reading: it ends the storage's listing early. */
export class ListingAbandonedError extends Error {
  constructor() {
    super('the client closed the connection during the listing');
    this.name = 'ListingAbandonedError';
  }
}

/**
 * Collects listed objects into NDJSON batches for `stream`. The first batch is held back until it is full
 * or the listing ends, so a listing that fails at once can still be answered with an error status
 * (`started` tells whether anything was written).
 */
export class ListingWriter {
  readonly stream = new PassThrough();
  #batch: string[] = [];
  #batchBytes = 0;
  #count = 0;
  #started = false;
  #onStart = (): void => undefined;
  /** Resolves when the first batch is written to `stream`. */
  readonly whenStarted = new Promise<void>((resolve) => (this.#onStart = resolve));

  get started(): boolean {
    return this.#started;
  }

  /** Adds one object; waits while the client reads slower than the storage lists. */
  async add(info: ObjectInfo): Promise<void> {
    const line = `${JSON.stringify({ key: info.key, size: info.size })}\n`;
    this.#batch.push(line);
    this.#batchBytes += line.length;
    this.#count++;
    if (this.#batchBytes >= BATCH_BYTES) await this.#flush();
  }

  /** The whole listing of a complete small listing that never started streaming. */
  completeBody(): string {
    return `${this.#batch.join('')}${doneLine(this.#count)}`;
  }

  /** Ends a started listing as complete. */
  async finish(): Promise<void> {
    this.#batch.push(doneLine(this.#count));
    await this.#flush();
    this.stream.end();
  }

  /** Ends a started listing with the error line, so the client knows it is incomplete. */
  async fail(error: ApiErrorBody): Promise<void> {
    this.#batch.push(`${JSON.stringify({ error: { code: error.code, message: error.message } })}\n`);
    await this.#flush();
    this.stream.end();
  }

  async #flush(): Promise<void> {
    const chunk = this.#batch.join('');
    this.#batch = [];
    this.#batchBytes = 0;
    if (this.stream.destroyed) throw new ListingAbandonedError();
    const more = this.stream.write(chunk);
    if (!this.#started) {
      this.#started = true;
      this.#onStart();
    }
    if (!more) await drained(this.stream);
  }
}

const doneLine = (count: number): string => `${JSON.stringify({ done: true, count })}\n`;

/** Resolves on 'drain'; rejects with ListingAbandonedError when the stream closes first. */
function drained(stream: PassThrough): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onClose = (): void => {
      cleanup();
      reject(new ListingAbandonedError());
    };
    const cleanup = (): void => {
      stream.off('drain', onDrain);
      stream.off('close', onClose);
    };
    stream.on('drain', onDrain);
    stream.on('close', onClose);
  });
}
