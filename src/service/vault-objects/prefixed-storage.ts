import type { ByteRange, ObjectInfo, SaveOptions, Storage, StorageProperties } from '../../storage/storage.js';

/**
 * A Storage that is the part of another under a key prefix (`import/<jobId>/`): key `data/ab/ab…` is
 * `<prefix>data/ab/ab…` of the inner storage, and listings answer keys without the prefix. Closing it
 * closes the inner storage.
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
  }

  save(key: string, data: Uint8Array | AsyncIterable<Uint8Array>, options?: SaveOptions): Promise<void> {
    return this.#inner.save(this.#prefix + key, data, options);
  }

  load(key: string, range?: ByteRange): Promise<Buffer> {
    return this.#inner.load(this.#prefix + key, range);
  }

  async stat(key: string): Promise<ObjectInfo> {
    const info = await this.#inner.stat(this.#prefix + key);
    return { key, size: info.size };
  }

  list(prefix: string, onObject: (info: ObjectInfo) => void | Promise<void>): Promise<void> {
    return this.#inner.list(this.#prefix + prefix, (info) => onObject({ key: info.key.slice(this.#prefix.length), size: info.size }));
  }

  remove(key: string): Promise<void> {
    return this.#inner.remove(this.#prefix + key);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
