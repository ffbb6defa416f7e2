/**
 * Runs tasks one at a time per key, and tasks of different keys concurrently. In-process only: it closes the
 * check-then-write window of append-only uploads against requests served by this process, not by another
 * instance of a scaled-out service (docs/service-http-storage.md, "Limits").
 */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs `task` after every earlier task of `key` has settled; resolves or rejects as `task` does. */
  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release = (): void => undefined;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.#tails.set(key, tail);
    await previous;
    try {
      return await task();
    } finally {
      release();
      // The last task of a key removes its entry, so the map holds only keys in use.
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  /** How many keys have a task running or waiting (for tests). */
  get activeKeys(): number {
    return this.#tails.size;
  }
}
