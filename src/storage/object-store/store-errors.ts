/**
 * The rules that turn an object store's errors into the storage seam's typed errors (core/errors.ts) and
 * decide which are worth another attempt, shared by the back ends: each describes its SDK's errors with a
 * {@link StoreDialect} (how to read the status and code, which codes mean what), and only its own folder
 * sees the SDK's error types. What leaves a back end is a FerryError or a plain Error with context and the
 * SDK's error as `cause`.
 */
import { FerryError, IntegrityError, NotFoundError, PermanentError, ReadOnlyStorageError, UnavailableError } from '../../core/errors.js';
import type { RetryClassifier } from './retry.js';

export type StoreAction = 'save' | 'load' | 'stat' | 'list' | 'remove' | 'copy';

const DOING: Record<StoreAction, string> = {
  save: 'saving',
  load: 'loading',
  stat: 'checking',
  list: 'listing',
  remove: 'removing',
  copy: 'copying',
};

/** How one object store's SDK reports errors. */
export interface StoreDialect {
  /** The HTTP status of an SDK error, or undefined when no response came (a network error). */
  statusOf(err: unknown): number | undefined;
  /** The store's error code (BlobNotFound, NoSuchKey, SlowDown, …) or the SDK's or system's (ECONNRESET). */
  codeOf(err: unknown): string | undefined;
  /** The Retry-After the store asked for, in milliseconds. */
  retryAfterMs(err: unknown): number | undefined;
  /** True for an error without a response that another attempt may fix (refused, reset, timed out). */
  isNetworkError(err: unknown): boolean;
  /** Codes of throttling and transient trouble, retried whatever the status. */
  readonly retryableCodes: ReadonlySet<string>;
  /** Codes saying the store received other bytes than were sent (a checksum it checked). */
  readonly checksumCodes: ReadonlySet<string>;
  /** Codes of a 403 on a write that say the credentials may read but not write. */
  readonly readOnlyCodes: ReadonlySet<string>;
  /** What to check after 401 or 403: the variables the credentials come from. */
  readonly credentialsHint: string;
}

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/**
 * True for what a later attempt may fix: throttling (429 and the dialect's codes), server errors (500,
 * 502, 503, 504), timeouts (408) and errors without a response (connection refused or reset). Typed
 * errors of our own (an IntegrityError found by a check) are not retried.
 */
export function isRetryableStoreError(err: unknown, dialect: StoreDialect): boolean {
  if (err instanceof FerryError) return false;
  const code = dialect.codeOf(err);
  if (code !== undefined && dialect.retryableCodes.has(code)) return true;
  const status = dialect.statusOf(err);
  if (status !== undefined) return RETRYABLE_STATUS.has(status);
  return dialect.isNetworkError(err);
}

/** The retry loop's view of a dialect (retry.ts). */
export function retryClassifier(dialect: StoreDialect): RetryClassifier {
  return { isRetryable: (err) => isRetryableStoreError(err, dialect), retryAfterMs: (err) => dialect.retryAfterMs(err) };
}

/**
 * Translates an SDK error met while doing `action` on `key` (a prefix for list) in `location` into the
 * seam's errors: 404 → `NotFoundError` (load, stat, copy source); 416 or InvalidRange → `IntegrityError`
 * (a range past the end); a checksum refused by the store → `IntegrityError`; a write the credentials may
 * not do → `ReadOnlyStorageError`; other 401/403 and 4xx → `PermanentError` saying what to check. Server
 * errors, throttling and network errors that outlived the retries are `UnavailableError`s (a later run
 * may succeed). Errors already typed pass through unchanged.
 */
export function translateStoreError(err: unknown, action: StoreAction, key: string, location: string, dialect: StoreDialect): Error {
  if (err instanceof FerryError) return err;
  const status = dialect.statusOf(err);
  const code = dialect.codeOf(err);
  const doing = `${DOING[action]} ${key} in ${location}`;
  const options = { cause: err };
  const detail = code ?? (status !== undefined ? `HTTP ${status}` : err instanceof Error ? err.message : String(err));
  if (status === 404 && (action === 'load' || action === 'stat' || action === 'copy')) {
    return new NotFoundError(`object ${key} not found in ${location}`, options);
  }
  if (status === 416 || code === 'InvalidRange') return new IntegrityError(`${doing}: the object is shorter than the range asked for (${detail})`, options);
  if (code !== undefined && dialect.checksumCodes.has(code)) {
    return new IntegrityError(`${doing}: the storage service received other bytes than were sent (${code}); retry`, options);
  }
  if (status === 401 || status === 403) {
    const message = `access denied while ${doing} (${detail}): ${dialect.credentialsHint}`;
    if ((action === 'save' || action === 'remove') && code !== undefined && dialect.readOnlyCodes.has(code)) return new ReadOnlyStorageError(message, options);
    return new PermanentError(message, options);
  }
  if (status !== undefined && status >= 400 && status < 500 && !RETRYABLE_STATUS.has(status) && status !== 409 && status !== 412) {
    return new PermanentError(`${doing}: the storage service refused the request (${detail})`, options);
  }
  const what = `${status !== undefined ? `HTTP ${status} ` : ''}${err instanceof Error ? err.message : String(err)}`;
  return new UnavailableError(`${doing}: ${what} (the storage service kept failing through every retry: run the command again once it is reachable)`, options);
}
