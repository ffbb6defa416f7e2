import { createHash } from 'node:crypto';
import { AlreadyExistsError, IntegrityError, NotFoundError } from '../core/errors.js';
import { assertTargetHolds, assertValidKey, assertValidPrefix, assertValidRange } from './object-key.js';
import { beginGathered } from './gathered-writer.js';
import type { ByteRange, ObjectInfo, ObjectWriter, SaveOptions, Storage, StorageProperties } from './storage.js';

/**
 * A Storage kept in a Map, for tests and dry runs. It follows the whole Storage contract (it passes the
 * conformance suite) but nothing survives the process.
 *
 * Buffers are copied on the way in and on the way out, so a caller mutating what it saved or what it
 * loaded never changes a stored object. A save becomes visible in one step after its source is fully read
 * and verified, so concurrent readers see the old object or the whole new one. `close` does nothing and
 * the storage stays usable, which lets a test reopen a repository on the same instance.
 */
export class MemoryStorage implements Storage {
  readonly properties: StorageProperties;
  readonly #objects = new Map<string, Buffer>();

  /** `location` is only used in messages. */
  constructor(location = 'memory:') {
    this.properties = { location, serverSideCopy: false };
  }

  async save(key: string, data: Uint8Array | AsyncIterable<Uint8Array>, options: SaveOptions = {}): Promise<void> {
    assertValidKey(key);
    const bytes = await readSource(key, data, options);
    // Checked when the object would become visible: the check and the set are one synchronous step.
    if (options.ifAbsent === true && this.#objects.has(key)) throw new AlreadyExistsError(`object ${key} already exists in ${this.properties.location}`);
    this.#objects.set(key, bytes);
  }

  /** Gathers the bytes in memory and saves them at commit (see beginGathered). */
  begin(folder: string): Promise<ObjectWriter> {
    return beginGathered(this, folder);
  }

  async load(key: string, range?: ByteRange): Promise<Buffer> {
    assertValidKey(key);
    if (range !== undefined) assertValidRange(key, range);
    const stored = this.#get(key);
    if (range === undefined) return Buffer.from(stored);
    return Buffer.from(this.#part(key, stored, range));
  }

  async loadInto(key: string, range: ByteRange, target: Uint8Array): Promise<void> {
    assertValidKey(key);
    assertValidRange(key, range);
    assertTargetHolds(key, range, target);
    target.set(this.#part(key, this.#get(key), range));
  }

  async stat(key: string): Promise<ObjectInfo> {
    assertValidKey(key);
    return { key, size: this.#get(key).length };
  }

  async list(prefix: string, onObject: (info: ObjectInfo) => void | Promise<void>): Promise<void> {
    assertValidPrefix(prefix);
    // A snapshot of the entries, so a callback that saves or removes does not disturb the iteration.
    for (const [key, bytes] of [...this.#objects]) {
      if (key.startsWith(prefix)) await onObject({ key, size: bytes.length });
    }
  }

  async remove(key: string): Promise<void> {
    assertValidKey(key);
    this.#objects.delete(key);
  }

  async close(): Promise<void> {}

  /** The stored bytes of `range` (a view, not a copy); an `IntegrityError` when the object is too short. */
  #part(key: string, stored: Buffer, range: ByteRange): Buffer {
    const end = range.offset + range.length;
    if (end > stored.length) {
      throw new IntegrityError(`${key} in ${this.properties.location} has ${stored.length} bytes, too few for the range ${range.offset}+${range.length}`);
    }
    return stored.subarray(range.offset, end);
  }

  #get(key: string): Buffer {
    const stored = this.#objects.get(key);
    if (stored === undefined) throw new NotFoundError(`object ${key} not found in ${this.properties.location}`);
    return stored;
  }
}

/**
 * Reads `data` into a fresh Buffer, checking `options.length` (failing as soon as the source runs over)
 * and `options.sha256`. Errors thrown by the source propagate unchanged.
 */
async function readSource(
  key: string,
  data: Uint8Array | AsyncIterable<Uint8Array>,
  options: SaveOptions,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  const sources: AsyncIterable<Uint8Array> | Uint8Array[] = data instanceof Uint8Array ? [data] : data;
  for await (const chunk of sources) {
    size += chunk.byteLength;
    if (options.length !== undefined && size > options.length) break;
    chunks.push(Buffer.from(chunk));
  }
  if (options.length !== undefined && size !== options.length) {
    const got = size > options.length ? `more than ${options.length}` : String(size);
    throw new IntegrityError(`saving ${key}: the source produced ${got} bytes, expected ${options.length}`);
  }
  const bytes = Buffer.concat(chunks, size);
  if (options.sha256 !== undefined) {
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== options.sha256) {
      throw new IntegrityError(`saving ${key}: the bytes have sha256 ${actual}, expected ${options.sha256}`);
    }
  }
  return bytes;
}
