/**
 * Client-side checks of an upload against SaveOptions, so that a mismatch fails before the server could
 * store anything: a Buffer is checked before it is sent, a stream as it is sent (the check fails the stream
 * before its end, which aborts the request, and the server stores nothing).
 */
import { createHash } from 'node:crypto';
import { IntegrityError } from '../../core/errors.js';
import type { SaveOptions } from '../storage.js';

/** Throws the IntegrityError a save of `data` under `key` must fail with, if any. */
export function checkBuffer(key: string, data: Uint8Array, options: SaveOptions): void {
  if (options.length !== undefined && data.byteLength !== options.length) {
    throw lengthMismatch(key, data.byteLength > options.length ? `more than ${options.length}` : String(data.byteLength), options.length);
  }
  if (options.sha256 !== undefined) {
    const actual = createHash('sha256').update(data).digest('hex');
    if (actual !== options.sha256) throw shaMismatch(key, actual, options.sha256);
  }
}

/**
 * Wraps a streamed source: yields its chunks, and throws an IntegrityError as soon as it runs past
 * `options.length`, or at its end when it is short or hashes differently. Remembers the first error the
 * source or the check threw (`error`), because fetch reports it only as a generic failure.
 */
export class VerifiedSource {
  #error: { value: unknown } | undefined;

  constructor(
    private readonly key: string,
    private readonly source: AsyncIterable<Uint8Array>,
    private readonly options: SaveOptions,
  ) {}

  /** The error that ended the stream, if the stream (not the network) ended it. */
  get error(): { value: unknown } | undefined {
    return this.#error;
  }

  async *chunks(): AsyncGenerator<Uint8Array> {
    try {
      yield* this.#verified();
    } catch (err) {
      this.#error ??= { value: err };
      throw err;
    }
  }

  async *#verified(): AsyncGenerator<Uint8Array> {
    const { length, sha256 } = this.options;
    const hash = sha256 !== undefined ? createHash('sha256') : undefined;
    let size = 0;
    for await (const chunk of this.source) {
      size += chunk.byteLength;
      if (length !== undefined && size > length) throw lengthMismatch(this.key, `more than ${length}`, length);
      hash?.update(chunk);
      if (chunk.byteLength > 0) yield chunk;
    }
    if (length !== undefined && size !== length) throw lengthMismatch(this.key, String(size), length);
    const actual = hash?.digest('hex');
    if (sha256 !== undefined && actual !== sha256) throw shaMismatch(this.key, actual ?? '', sha256);
  }
}

const lengthMismatch = (key: string, got: string, expected: number): IntegrityError =>
  new IntegrityError(`saving ${key}: the source produced ${got} bytes, expected ${expected}`);

const shaMismatch = (key: string, actual: string, expected: string): IntegrityError =>
  new IntegrityError(`saving ${key}: the bytes have sha256 ${actual}, expected ${expected}`);
