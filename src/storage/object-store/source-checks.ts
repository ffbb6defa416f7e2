import { createHash } from 'node:crypto';
import { IntegrityError } from '../../core/errors.js';
import type { SaveOptions } from '../storage.js';

/**
 * The source of a save, checked as it is read: yields the source's chunks as they come (views, not
 * copies: a source may reuse its buffer once asked for the next chunk, so a caller that keeps a chunk
 * longer copies it) and, after the last one, throws an `IntegrityError` instead of ending when the bytes are not `options.length`
 * long or do not hash to `options.sha256`. It stops reading as soon as the source gives more than
 * `options.length`. An uploader that completes an upload only after its source ended therefore never
 * makes a wrong object visible. `onChunk` sees every byte (e.g. for the MD5 stored with the object).
 */
export async function* checkedSource(
  key: string,
  data: Uint8Array | AsyncIterable<Uint8Array>,
  options: SaveOptions,
  onChunk?: (chunk: Buffer) => void,
): AsyncGenerator<Buffer> {
  const sha256 = options.sha256 !== undefined ? createHash('sha256') : undefined;
  let size = 0;
  for await (const chunk of data instanceof Uint8Array ? [data] : data) {
    size += chunk.byteLength;
    if (options.length !== undefined && size > options.length) break;
    const view = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    sha256?.update(view);
    onChunk?.(view);
    yield view;
  }
  if (options.length !== undefined && size !== options.length) {
    const got = size > options.length ? `more than ${options.length}` : String(size);
    throw new IntegrityError(`saving ${key}: the source produced ${got} bytes, expected ${options.length}`);
  }
  const actual = sha256?.digest('hex');
  if (options.sha256 !== undefined && actual !== options.sha256) {
    throw new IntegrityError(`saving ${key}: the bytes have sha256 ${actual}, expected ${options.sha256}`);
  }
}
