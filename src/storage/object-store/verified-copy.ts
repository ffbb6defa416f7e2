import { createHash } from 'node:crypto';
import { IntegrityError } from '../../core/errors.js';
import { InterruptedBodyError } from './response-body.js';

/** What one object store offers the verified copy: a download to hash, and a copy on condition. */
export interface CopyEnds {
  /** Downloads the whole source object; its bytes, their number as the store announced it, and its ETag. */
  download(sourceKey: string): Promise<{ readonly body: AsyncIterable<Uint8Array>; readonly size: number | undefined; readonly etag: string | undefined }>;
  /**
   * Copies the source to the target inside the store, on the condition that the source still has `etag`
   * (when given): a source changed since it was hashed fails the copy and stores nothing.
   */
  copyIfMatch(sourceKey: string, targetKey: string, etag: string | undefined, size: number): Promise<void>;
  /** Runs a step with the store's retries and error translation, as a read of the source (`copy`) or a write of the target (`save`). */
  request<T>(action: 'copy' | 'save', key: string, step: () => Promise<T>): Promise<T>;
}

/**
 * The server-side copy rule of the object stores: the copy must hash to the SHA-256 its name claims and
 * nothing else may become visible, yet an object store has no temp-and-rename. So the source is
 * downloaded and hashed first (its bytes go down to the caller once, never up), and then copied inside the
 * store on the condition that it still has the ETag that was hashed: the copied bytes are the verified
 * ones, or the copy fails and nothing is stored.
 *
 * Returns the size. `IntegrityError` naming the key when the source does not hash to `sha256` (nothing is
 * copied); a download cut short is retried as a network error; the ends' errors (a missing source) pass
 * through their `request`.
 */
export async function copyVerified(ends: CopyEnds, sourceKey: string, targetKey: string, sha256: string): Promise<number> {
  const { etag, size } = await ends.request('copy', sourceKey, () => hashSource(ends, sourceKey, sha256));
  await ends.request('save', targetKey, () => ends.copyIfMatch(sourceKey, targetKey, etag, size));
  return size;
}

/** Downloads and hashes the source: its ETag and size when it hashes to `sha256`. */
async function hashSource(ends: CopyEnds, sourceKey: string, sha256: string): Promise<{ etag: string | undefined; size: number }> {
  const response = await ends.download(sourceKey);
  const hash = createHash('sha256');
  let read = 0;
  for await (const chunk of response.body) {
    hash.update(chunk);
    read += chunk.byteLength;
  }
  if (response.size !== undefined && read !== response.size) {
    throw new InterruptedBodyError(`the download of ${sourceKey} ended after ${read} of ${response.size} bytes`);
  }
  const actual = hash.digest('hex');
  if (actual !== sha256) throw new IntegrityError(`copying ${sourceKey}: the bytes have sha256 ${actual}, but the name claims ${sha256}`);
  return { etag: response.etag, size: read };
}
