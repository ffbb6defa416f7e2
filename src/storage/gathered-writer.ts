import { IntegrityError, PermanentError } from '../core/errors.js';
import { assertValidKey } from './object-key.js';
import type { ObjectWriter, Storage } from './storage.js';

/**
 * {@link Storage.begin} for back ends that store an object in one request (object stores, the service's
 * HTTP storage, MemoryStorage): the appended bytes are copied into one buffer (grown by doubling), and
 * `commit` saves that buffer with {@link Storage.save} under the key, as a pack was saved before packs
 * were written as they fill: the same request, retries and checks. It holds a whole object in memory, as
 * such a save does; a failed `save` fails `commit` and leaves what `save` leaves (nothing).
 */
export async function beginGathered(storage: Pick<Storage, 'save'>, folder: string): Promise<ObjectWriter> {
  assertValidKey(folder);
  return new GatheredWriter(storage, folder);
}

/** Checks that `key` lies in `folder` (see Storage.begin). */
export function assertKeyInFolder(key: string, folder: string): void {
  assertValidKey(key);
  if (!key.startsWith(`${folder}/`)) throw new PermanentError(`cannot commit ${key} from an object begun in ${folder}/`);
}

class GatheredWriter implements ObjectWriter {
  #buffer: Buffer | undefined;
  #size = 0;
  #done = false;

  constructor(
    private readonly storage: Pick<Storage, 'save'>,
    private readonly folder: string,
  ) {}

  async append(bytes: Uint8Array): Promise<void> {
    if (this.#done) throw new Error('append to an object already committed or aborted');
    // A copy: the caller reuses `bytes` once this resolves.
    const size = this.#size + bytes.byteLength;
    if (this.#buffer === undefined || size > this.#buffer.length) {
      const larger = Buffer.allocUnsafeSlow(Math.max(size, 2 * (this.#buffer?.length ?? 0), 1024 * 1024));
      this.#buffer?.copy(larger, 0, 0, this.#size);
      this.#buffer = larger;
    }
    this.#buffer.set(bytes, this.#size);
    this.#size = size;
  }

  async commit(key: string, options: { readonly length?: number } = {}): Promise<void> {
    if (this.#done) throw new Error('commit of an object already committed or aborted');
    this.#done = true;
    const bytes = (this.#buffer ?? Buffer.alloc(0)).subarray(0, this.#size);
    this.#buffer = undefined;
    assertKeyInFolder(key, this.folder);
    if (options.length !== undefined && options.length !== this.#size) {
      throw new IntegrityError(`saving ${key}: ${this.#size} bytes were appended, expected ${options.length}`);
    }
    await this.storage.save(key, bytes, { length: bytes.length });
  }

  async abort(): Promise<void> {
    this.#done = true;
    this.#buffer = undefined;
  }
}
