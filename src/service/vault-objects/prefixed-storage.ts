import { NotFoundError, PermanentError } from '../../core/errors.js';
import { assertValidKey, assertValidPrefix, isValidKey } from '../../storage/object-key.js';
import type { ByteRange, ObjectInfo, ObjectWriter, SaveOptions, Storage, StorageProperties } from '../../storage/storage.js';

/**
 * A Storage that is the part of another under a key prefix (`import/<jobId>/`): key `data/ab/ab…` is
 * `<prefix>data/ab/ab…` of the inner storage, and listings answer keys without the prefix. Closing it
 * closes the inner storage.
 *
 * Keys are checked against the key rule as they are given (a `PermanentError` for an invalid one). A valid
 * key that the prefix makes too long for the inner storage names no object that can exist: load and stat
 * answer `NotFoundError`, remove resolves, and save refuses it with a `PermanentError` saying so. Its
 * namespace is therefore the keys up to 1024 characters less the prefix.
 */
export class PrefixedStorage implements Storage {
  readonly properties: StorageProperties;
  readonly #inner: Storage;
  readonly #prefix: string;

  /** `prefix` is a valid key prefix ending in `/`. */
  constructor(inner: Storage, prefix: string) {
    if (!prefix.endsWith('/')) throw new Error(`a storage prefix ends with "/": ${prefix}`);
    this.#inner = inner;
    this.#prefix = prefix;
    this.properties = { location: `${inner.properties.location}/${prefix.slice(0, -1)}`, serverSideCopy: inner.properties.serverSideCopy };
    // Present exactly when the inner storage has it: callers test for it and fall back to load.
    if (inner.loadInto) {
      const loadInto = inner.loadInto.bind(inner);
      this.loadInto = async (key, range, target) => loadInto(this.#existing(key), range, target);
    }
  }

  loadInto?: (key: string, range: ByteRange, target: Uint8Array) => Promise<void>;

  async save(key: string, data: Uint8Array | AsyncIterable<Uint8Array>, options?: SaveOptions): Promise<void> {
    const inner = this.#innerKey(key);
    if (inner === undefined) throw new PermanentError(`${key.slice(0, 80)}… is too long to be stored under ${this.#prefix}`);
    return this.#inner.save(inner, data, options);
  }

  /** The inner storage's, in the prefixed folder; commit takes a key of this storage. */
  async begin(folder: string): Promise<ObjectWriter> {
    const inner = this.#innerKey(folder);
    if (inner === undefined) throw new PermanentError(`${folder.slice(0, 80)}… is too long to be stored under ${this.#prefix}`);
    const writer = await this.#inner.begin(inner);
    return {
      append: (bytes) => writer.append(bytes),
      commit: async (key, options) => {
        const innerKey = this.#innerKey(key);
        if (innerKey === undefined) {
          await writer.abort();
          throw new PermanentError(`${key.slice(0, 80)}… is too long to be stored under ${this.#prefix}`);
        }
        return writer.commit(innerKey, options);
      },
      abort: () => writer.abort(),
    };
  }

  async load(key: string, range?: ByteRange): Promise<Buffer> {
    return this.#inner.load(this.#existing(key), range);
  }

  async stat(key: string): Promise<ObjectInfo> {
    const info = await this.#inner.stat(this.#existing(key));
    return { key, size: info.size };
  }

  async list(prefix: string, onObject: (info: ObjectInfo) => void | Promise<void>): Promise<void> {
    assertValidPrefix(prefix);
    // A prefix too long for the inner storage starts no key that can exist there.
    if (!isValidPrefixOf(this.#prefix + prefix)) return;
    return this.#inner.list(this.#prefix + prefix, (info) => onObject({ key: info.key.slice(this.#prefix.length), size: info.size }));
  }

  async remove(key: string): Promise<void> {
    const inner = this.#innerKey(key);
    if (inner !== undefined) await this.#inner.remove(inner);
  }

  /** The inner key of a valid `key`, or undefined when the prefix makes it too long. */
  #innerKey(key: string): string | undefined {
    assertValidKey(key);
    const inner = this.#prefix + key;
    return isValidKey(inner) ? inner : undefined;
  }

  /** The inner key of an object that may exist; `NotFoundError` for a key no object here can have. */
  #existing(key: string): string {
    const inner = this.#innerKey(key);
    if (inner === undefined) throw new NotFoundError(`object ${key.slice(0, 80)}… not found: no object under ${this.#prefix} has so long a key`);
    return inner;
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

function isValidPrefixOf(prefix: string): boolean {
  try {
    assertValidPrefix(prefix);
    return true;
  } catch {
    return false;
  }
}
