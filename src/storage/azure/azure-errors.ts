/**
 * The edge between the Azure SDK's errors and the storage seam's typed errors (core/errors.ts). Only this
 * folder sees a `RestError`; what leaves it is a FerryError or a plain Error with context and the SDK's
 * error as `cause`.
 */
import { FerryError, IntegrityError, NotFoundError, PermanentError, ReadOnlyStorageError } from '../../core/errors.js';

export type AzureAction = 'save' | 'load' | 'stat' | 'list' | 'remove' | 'copy';

const DOING: Record<AzureAction, string> = {
  save: 'saving',
  load: 'loading',
  stat: 'checking',
  list: 'listing',
  remove: 'removing',
  copy: 'copying',
};

/** The HTTP status of an SDK error, or undefined when no response came (a network error). */
export function statusOf(err: unknown): number | undefined {
  const status = typeof err === 'object' && err !== null ? (err as { statusCode?: unknown }).statusCode : undefined;
  return typeof status === 'number' ? status : undefined;
}

/** The storage service's error code (`x-ms-error-code`: BlobNotFound, ContainerNotFound, …) or the SDK's code. */
export function errorCodeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const header = (err as { response?: { headers?: { get?: (name: string) => string | undefined } } }).response?.headers?.get?.('x-ms-error-code');
  const code = header ?? (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** The Retry-After the service asked for, in milliseconds, when it gave one. */
export function retryAfterMs(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const value = (err as { response?: { headers?: { get?: (name: string) => string | undefined } } }).response?.headers?.get?.('retry-after');
  if (value === undefined || !/^[0-9]{1,6}$/.test(value.trim())) return undefined;
  return Number(value) * 1000;
}

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);
/** Codes the service uses for throttling and timeouts, whatever the status. */
const RETRYABLE_CODES = new Set(['ServerBusy', 'OperationTimedOut', 'InternalError', 'IngressOverAccountLimit', 'EgressOverAccountLimit', 'TpsOverAccountLimit']);
const NETWORK_CODES = new Set(['REQUEST_SEND_ERROR', 'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'ESOCKETTIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_SOCKET']);

/**
 * True for what a later attempt may fix: throttling (429, ServerBusy), server errors (500, 502, 503, 504),
 * timeouts (408) and errors without a response (connection refused or reset). Typed errors of our own
 * (an IntegrityError found by a check) are not retried here.
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof FerryError) return false;
  const status = statusOf(err);
  const code = errorCodeOf(err);
  if (code !== undefined && RETRYABLE_CODES.has(code)) return true;
  if (status !== undefined) return RETRYABLE_STATUS.has(status);
  if (code !== undefined && NETWORK_CODES.has(code)) return true;
  // A body stream cut mid-download has neither a status nor a code of the SDK: its cause says.
  const name = typeof err === 'object' && err !== null ? (err as { name?: unknown }).name : undefined;
  return name === 'RestError' || (code !== undefined && code.startsWith('E'));
}

/**
 * Translates an SDK error met while doing `action` on `key` (a prefix for list) in `location` into the
 * seam's errors: 404 → `NotFoundError` (load, stat, copy source); 416 → `IntegrityError` (a range past the
 * end); a checksum refused by the store → `IntegrityError`; a write the credentials may not do (403 on
 * save or remove, a read-only SAS) → `ReadOnlyStorageError`; other 401/403 and 4xx → `PermanentError` saying
 * what to check. Server errors, throttling and network errors that outlived the retries stay plain
 * Errors (a later run may succeed). Errors already typed pass through unchanged.
 */
export function translateAzureError(err: unknown, action: AzureAction, key: string, location: string): Error {
  if (err instanceof FerryError) return err;
  const status = statusOf(err);
  const code = errorCodeOf(err);
  const doing = `${DOING[action]} ${key} in ${location}`;
  const options = { cause: err };
  const detail = code ?? (status !== undefined ? `HTTP ${status}` : err instanceof Error ? err.message : String(err));
  if (status === 404 && (action === 'load' || action === 'stat' || action === 'copy')) {
    return new NotFoundError(`object ${key} not found in ${location}`, options);
  }
  if (status === 416 || code === 'InvalidRange') return new IntegrityError(`${doing}: the object is shorter than the range asked for (${detail})`, options);
  if (code === 'Md5Mismatch' || code === 'Crc64Mismatch' || code === 'InvalidMd5') {
    return new IntegrityError(`${doing}: the storage service received other bytes than were sent (${code}); retry`, options);
  }
  if (status === 401 || status === 403) {
    const message = `access denied while ${doing} (${detail}): check AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_KEY, and that a SAS allows this operation`;
    if ((action === 'save' || action === 'remove') && code === 'AuthorizationPermissionMismatch') return new ReadOnlyStorageError(message, options);
    return new PermanentError(message, options);
  }
  if (status !== undefined && status >= 400 && status < 500 && !RETRYABLE_STATUS.has(status) && status !== 409 && status !== 412) {
    return new PermanentError(`${doing}: the storage service refused the request (${detail})`, options);
  }
  return new Error(`${doing}: ${status !== undefined ? `HTTP ${status} ` : ''}${err instanceof Error ? err.message : String(err)}`, options);
}
