import { beginGathered } from '../gathered-writer.js';
import type { ByteRange, ObjectInfo, ObjectWriter, SaveOptions, Storage, StorageProperties } from '../storage.js';

/** The Storage operations a fault can be attached to. */
export type StorageOperation = 'save' | 'load' | 'stat' | 'list' | 'remove';

/** What a fault does when it fires: reject with an error, damage a loaded object, or truncate a saved one. */
export type FaultEffect =
  | { readonly kind: 'error'; readonly error: Error }
  | { readonly kind: 'corrupt' }
  | { readonly kind: 'truncate'; readonly bytes: number };

/** One call that reached a FaultyStorage; `key` is the prefix for `list`. */
export interface FaultyCall {
  readonly operation: StorageOperation;
  readonly key: string;
  /** Set when a fault fired on this call. */
  readonly fault?: FaultEffect['kind'];
}

/**
 * One injected fault, configured fluently. It matches calls of its operation whose key (or list
 * prefix) starts with `keyPrefix`, fires on the first `times(n)` matching calls (every matching call
 * when `times` is not given) and then lets calls through. Without a configured effect it throws a
 * generic Error naming the operation and key.
 */
export class Fault {
  #remaining = Number.POSITIVE_INFINITY;
  protected effect: FaultEffect | undefined;

  constructor(
    readonly operation: StorageOperation,
    readonly keyPrefix: string,
  ) {}

  /** Rejects matching calls with `error` instead of performing them. */
  errorInstead(error: Error): this {
    this.effect = { kind: 'error', error };
    return this;
  }

  /** Fires on the next `n` matching calls only; `n` is a positive integer. */
  times(n: number): this {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`times needs a positive integer, got ${n}`);
    this.#remaining = n;
    return this;
  }

  /** How many more times the fault fires (Infinity when unlimited). */
  get remaining(): number {
    return this.#remaining;
  }

  /** Consumes one firing and returns the effect when the fault applies to this call. @internal */
  take(operation: StorageOperation, key: string): FaultEffect | undefined {
    if (operation !== this.operation || !key.startsWith(this.keyPrefix) || this.#remaining <= 0) return undefined;
    this.#remaining--;
    return this.effect ?? { kind: 'error', error: new Error(`injected ${operation} fault on ${JSON.stringify(key)}`) };
  }
}

/** A fault on `load` that can also return damaged bytes. */
export class LoadFault extends Fault {
  /** Performs the load but flips every bit of the middle byte of the result (empty results pass as they are). */
  corruptLoad(): this {
    this.effect = { kind: 'corrupt' };
    return this;
  }
}

/** A fault on `save` that can also store a truncated object. */
export class SaveFault extends Fault {
  /**
   * Reads the whole source but stores only its first `bytes` bytes, ignoring `length` and `sha256`, and
   * reports success: a pack truncated in transit that the back end did not notice.
   */
  truncateSave(bytes: number): this {
    if (!Number.isInteger(bytes) || bytes < 0) throw new RangeError(`truncateSave needs bytes >= 0, got ${bytes}`);
    this.effect = { kind: 'truncate', bytes };
    return this;
  }
}

/** The fault type `addFault` returns for each operation. */
export type FaultFor<O extends StorageOperation> = O extends 'load' ? LoadFault : O extends 'save' ? SaveFault : Fault;

/**
 * A Storage wrapper for tests that injects faults into calls to the wrapped storage:
 * `faulty.addFault('save', { keyPrefix: 'data/' }).errorInstead(new PermanentError('full')).times(2)`.
 * The first active matching fault, in the order added, fires; calls without one pass through unchanged.
 * Every call is appended to `calls`. Not a production wrapper: it buffers truncated saves in memory.
 */
export class FaultyStorage implements Storage {
  readonly calls: FaultyCall[] = [];
  readonly #faults: Fault[] = [];

  constructor(readonly inner: Storage) {
    // Present exactly when the inner storage has it; faults on 'load' fire on it too.
    if (inner.loadInto) {
      const loadInto = inner.loadInto.bind(inner);
      this.loadInto = async (key, range, target) => {
        const effect = this.#enter('load', key);
        await loadInto(key, range, target);
        if (effect?.kind === 'corrupt' && range.length > 0) {
          const middle = Math.floor(range.length / 2);
          target[middle] = (target[middle] ?? 0) ^ 0xff;
        }
      };
    }
  }

  loadInto?: (key: string, range: ByteRange, target: Uint8Array) => Promise<void>;

  get properties(): StorageProperties {
    return this.inner.properties;
  }

  /** Adds a fault for `operation`, limited to keys starting with `options.keyPrefix` when given. */
  addFault<O extends StorageOperation>(operation: O, options: { keyPrefix?: string } = {}): FaultFor<O> {
    const keyPrefix = options.keyPrefix ?? '';
    const fault =
      operation === 'load'
        ? new LoadFault(operation, keyPrefix)
        : operation === 'save'
          ? new SaveFault(operation, keyPrefix)
          : new Fault(operation, keyPrefix);
    this.#faults.push(fault);
    return fault as FaultFor<O>;
  }

  /** Removes every fault; `calls` is kept. */
  clearFaults(): void {
    this.#faults.length = 0;
  }

  /**
   * Gathers the bytes and saves them through {@link save} at commit, so faults on `save` fire on objects
   * written with begin too (a backup's data packs), with the object's key.
   */
  begin(folder: string): Promise<ObjectWriter> {
    return beginGathered(this, folder);
  }

  async save(key: string, data: Uint8Array | AsyncIterable<Uint8Array>, options?: SaveOptions): Promise<void> {
    const effect = this.#enter('save', key);
    if (effect?.kind === 'truncate') {
      const chunks: Uint8Array[] = [];
      for await (const chunk of data instanceof Uint8Array ? [data] : data) chunks.push(Buffer.from(chunk));
      return this.inner.save(key, Buffer.concat(chunks).subarray(0, effect.bytes));
    }
    return this.inner.save(key, data, options);
  }

  async load(key: string, range?: ByteRange): Promise<Buffer> {
    const effect = this.#enter('load', key);
    const bytes = await this.inner.load(key, range);
    if (effect?.kind === 'corrupt' && bytes.length > 0) {
      const middle = Math.floor(bytes.length / 2);
      bytes[middle] = (bytes[middle] ?? 0) ^ 0xff;
    }
    return bytes;
  }

  async stat(key: string): Promise<ObjectInfo> {
    this.#enter('stat', key);
    return this.inner.stat(key);
  }

  async list(prefix: string, onObject: (info: ObjectInfo) => void | Promise<void>): Promise<void> {
    this.#enter('list', prefix);
    return this.inner.list(prefix, onObject);
  }

  async remove(key: string): Promise<void> {
    this.#enter('remove', key);
    return this.inner.remove(key);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** Logs the call, fires the first matching fault, and throws when its effect is an error. */
  #enter(operation: StorageOperation, key: string): FaultEffect | undefined {
    let effect: FaultEffect | undefined;
    for (const fault of this.#faults) {
      effect = fault.take(operation, key);
      if (effect !== undefined) break;
    }
    this.calls.push(effect === undefined ? { operation, key } : { operation, key, fault: effect.kind });
    if (effect?.kind === 'error') throw effect.error;
    return effect;
  }
}
