import { InterruptedError } from '../core/errors.js';
import { folderOf } from './layout.js';
import type { ByteRange, ObjectInfo, ObjectWriter, SaveOptions, Storage, StorageProperties } from './storage.js';

/** The folder of lock objects, which an interrupted process still cleans up. */
const LOCKS_PREFIX = folderOf('lock');

/**
 * A Storage that stops taking new work once `signal` aborts (Ctrl-C, SIGTERM, a closed stdout): every
 * later call rejects with `InterruptedError`, so any command working on a repository stops at its next
 * object, whether or not it watches the signal itself. Calls already running finish as they would.
 *
 * Two things stay allowed, for the clean-up after an interruption: removing lock objects (`locks/…`,
 * so the process releases its lock) and `close`.
 */
export class InterruptibleStorage implements Storage {
  readonly #inner: Storage;
  readonly #signal: AbortSignal;

  constructor(inner: Storage, signal: AbortSignal) {
    this.#inner = inner;
    this.#signal = signal;
    // Optional methods exist here exactly when the inner storage has them: callers test for them.
    if (inner.loadInto) {
      const loadInto = inner.loadInto.bind(inner);
      this.loadInto = async (key, range, target) => {
        this.#check();
        return loadInto(key, range, target);
      };
    }
    if (inner.removeInterruptedSaves) {
      const removeInterruptedSaves = inner.removeInterruptedSaves.bind(inner);
      this.removeInterruptedSaves = (folders) => {
        this.#check();
        return removeInterruptedSaves(folders);
      };
    }
  }

  get properties(): StorageProperties {
    return this.#inner.properties;
  }

  loadInto?: (key: string, range: ByteRange, target: Uint8Array) => Promise<void>;

  removeInterruptedSaves?: (folders: readonly string[]) => Promise<number>;

  async save(key: string, data: Uint8Array | AsyncIterable<Uint8Array>, options?: SaveOptions): Promise<void> {
    this.#check();
    return this.#inner.save(key, data, options);
  }

  /** Each append and the commit stop once interrupted (the object is aborted: nothing is stored). */
  async begin(folder: string): Promise<ObjectWriter> {
    this.#check();
    const writer = await this.#inner.begin(folder);
    const checked = async <T>(step: () => Promise<T>): Promise<T> => {
      if (this.#signal.aborted) {
        await writer.abort();
        this.#check();
      }
      return step();
    };
    return {
      append: (bytes) => checked(() => writer.append(bytes)),
      commit: (key, options) => checked(() => writer.commit(key, options)),
      abort: () => writer.abort(),
    };
  }

  async load(key: string, range?: ByteRange): Promise<Buffer> {
    this.#check();
    return this.#inner.load(key, range);
  }

  async stat(key: string): Promise<ObjectInfo> {
    this.#check();
    return this.#inner.stat(key);
  }

  async list(prefix: string, onObject: (info: ObjectInfo) => void | Promise<void>): Promise<void> {
    this.#check();
    return this.#inner.list(prefix, (info) => {
      // A long listing stops too: the error ends it, as the Storage contract says.
      this.#check();
      return onObject(info);
    });
  }

  async remove(key: string): Promise<void> {
    if (!key.startsWith(LOCKS_PREFIX)) this.#check();
    return this.#inner.remove(key);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  #check(): void {
    if (this.#signal.aborted) throw new InterruptedError('interrupted');
  }
}
