import { NotFoundError } from '../../core/errors.js';
import { shortId, type Id } from '../../core/ids.js';
import { objectKey } from '../../storage/layout.js';
import { formatAge, newLockDocument, saveLockDocument, type LockDocument } from './lock-document.js';
import { LockLostError } from './lock-lost-error.js';
import type { Repository } from './repository.js';

/** A lock this process holds; obtained from `acquireLock`. */
export interface RepositoryLock {
  /** The id of the current lock object; it changes at every refresh. */
  readonly id: Id;
  readonly exclusive: boolean;
  /**
   * Aborted, with the {@link LockLostError} as its reason, as soon as the lock is found lost (by the
   * refresh timer, {@link refresh} or {@link assertHeld}). Never aborted by {@link release}.
   */
  readonly signal: AbortSignal;
  /**
   * Call right before committing anything (a backup calls it before writing its snapshot). Throws
   * {@link LockLostError} when the last successful refresh is older than the stale time by the
   * repository's clock, or when a refresh found the lock object removed by someone else; throws a plain
   * Error after {@link release} (a bug in the caller).
   */
  assertHeld(): void;
  /**
   * Rewrites the lock now (the timer does this every `refreshMs`): writes a new object with the current
   * time, then removes the old one, so a lock of ours is visible at every moment. Rejects with
   * {@link LockLostError} when the lock is lost (then nothing is written), with the storage's error when
   * the rewrite failed (the lock stays held until it goes stale; the timer keeps trying). Concurrent
   * calls share one rewrite.
   */
  refresh(): Promise<void>;
  /**
   * Stops the timer, waits for a running refresh and removes every lock object of ours. Idempotent;
   * a call after a failed removal tries again. Also to be called after the lock was lost.
   */
  release(): Promise<void>;
}

/** Refresh interval and stale time, in ms; `refreshMs < staleMs`. */
export interface LockTiming {
  readonly refreshMs: number;
  readonly staleMs: number;
}

/**
 * Keeps a written lock alive: an unref'd timer (it never keeps the process running) refreshes it every
 * `refreshMs`; time is read from `repo.context.clock` only, so tests drive staleness with a fake clock
 * and call {@link refresh} themselves. Failpoint `lock-refresh` sits between writing the new object and
 * removing the old one.
 */
export class LockKeeper implements RepositoryLock {
  readonly #repo: Repository;
  readonly #timing: LockTiming;
  readonly #controller = new AbortController();
  /** Our lock objects that are no longer current but may still exist (a removal failed or was cut short). */
  readonly #leftovers = new Set<Id>();
  #id: Id;
  #document: LockDocument;
  /** The time written in our newest lock object: what other processes judge staleness by. */
  #lastRefresh: number;
  #lastError: unknown;
  #lost: LockLostError | undefined;
  #released = false;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;

  /** Takes over a lock object already saved as `id`; call {@link start} to begin refreshing. */
  constructor(repo: Repository, id: Id, document: LockDocument, timing: LockTiming) {
    this.#repo = repo;
    this.#timing = timing;
    this.#id = id;
    this.#document = document;
    this.#lastRefresh = Date.parse(document.time);
  }

  get id(): Id {
    return this.#id;
  }

  get exclusive(): boolean {
    return this.#document.exclusive;
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Starts the refresh timer. */
  start(): void {
    this.#schedule();
  }

  assertHeld(): void {
    if (this.#released) throw new Error(`lock ${shortId(this.#id)} was already released`);
    this.#checkAge(this.#repo.context.clock.now());
    this.#throwIfLost();
  }

  refresh(): Promise<void> {
    if (this.#released) return Promise.reject(new Error(`lock ${shortId(this.#id)} was already released`));
    if (this.#lost) return Promise.reject(this.#lost);
    this.#inFlight ??= this.#rewrite()
      .catch((err: unknown) => {
        // Kept for the message should the lock go stale before a refresh succeeds.
        if (!(err instanceof LockLostError)) this.#lastError = err;
        throw err;
      })
      .finally(() => (this.#inFlight = undefined));
    return this.#inFlight;
  }

  async release(): Promise<void> {
    if (this.#released && this.#leftovers.size === 0) return;
    this.#released = true;
    clearTimeout(this.#timer);
    // The outcome of a refresh still running no longer matters (every object of ours is removed next);
    // waiting for it keeps it from writing a new object after the removal.
    await this.#inFlight?.catch(() => undefined);
    this.#leftovers.add(this.#id);
    await this.#removeLeftovers();
  }

  async #rewrite(): Promise<void> {
    const clock = this.#repo.context.clock;
    const started = clock.now();
    this.#checkAge(started);
    this.#throwIfLost();
    if (!(await this.#exists(this.#id))) {
      throw this.#markLost(`another process removed lock ${shortId(this.#id)} (e.g. \`ferry unlock --remove-all\`)`);
    }
    const document = newLockDocument(this.#repo, this.#document.exclusive, this.#document.pid, started);
    const id = await saveLockDocument(this.#repo, document);
    this.#leftovers.add(this.#id);
    this.#id = id;
    this.#document = document;
    // If the write itself took longer than the stale time, others may have judged the previous object
    // stale meanwhile: the fresh object must not pretend otherwise, so it goes too.
    this.#checkAge(clock.now());
    if (this.#lost !== undefined) this.#leftovers.add(id);
    else {
      this.#lastRefresh = started;
      this.#lastError = undefined;
    }
    this.#repo.context.failpoints?.hit('lock-refresh');
    await this.#removeLeftovers();
    this.#throwIfLost();
  }

  /** A separate method, so the compiler does not carry a narrowing of #lost across awaits and calls. */
  #throwIfLost(): void {
    if (this.#lost) throw this.#lost;
  }

  /** Marks the lock lost when its newest object is older than the stale time at `now`. */
  #checkAge(now: number): void {
    if (this.#lost || this.#released || now - this.#lastRefresh <= this.#timing.staleMs) return;
    const failed = this.#lastError instanceof Error ? `; the last refresh failed: ${this.#lastError.message}` : '';
    this.#markLost(
      `it was last refreshed ${formatAge(now - this.#lastRefresh)} ago, longer than the ${formatAge(this.#timing.staleMs)} ` +
        `after which other processes may remove it (was this process suspended, or the repository unreachable?)${failed}`,
    );
  }

  #markLost(reason: string): LockLostError {
    if (this.#lost) return this.#lost;
    this.#lost = new LockLostError(
      `the repository lock was lost: ${reason}. Another process may have changed the repository meanwhile, ` +
        'so nothing was saved; run the command again',
      { cause: this.#lastError },
    );
    clearTimeout(this.#timer);
    this.#controller.abort(this.#lost);
    return this.#lost;
  }

  #schedule(): void {
    if (this.#released || this.#lost) return;
    this.#timer = setTimeout(() => this.#tick(), this.#timing.refreshMs);
    this.#timer.unref();
  }

  #tick(): void {
    this.#checkAge(this.#repo.context.clock.now());
    if (this.#released || this.#lost) return;
    if (!this.#inFlight) {
      // refresh() records its failures itself (a loss aborts the signal, other errors go into the loss
      // message), and the next tick tries again.
      this.refresh().catch(() => undefined);
    }
    this.#schedule();
  }

  async #exists(id: Id): Promise<boolean> {
    try {
      await this.#repo.storage.stat(objectKey('lock', id));
      return true;
    } catch (err) {
      if (err instanceof NotFoundError) return false;
      throw err;
    }
  }

  /** Removes our superseded objects; those that fail stay listed, and the first failure is rethrown. */
  async #removeLeftovers(): Promise<void> {
    let failure: Error | undefined;
    for (const id of [...this.#leftovers]) {
      try {
        await this.#repo.storage.remove(objectKey('lock', id));
        this.#leftovers.delete(id);
      } catch (err) {
        failure ??= err instanceof Error ? err : new Error(String(err));
      }
    }
    if (failure !== undefined) throw failure;
  }
}
