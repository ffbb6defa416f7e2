/**
 * The edge between the Azure SDK's errors and the storage seam's typed errors (core/errors.ts): how a
 * `RestError` says its status and code, and which codes mean what; the rules themselves are shared by the
 * object stores (object-store/store-errors.ts). Only this folder sees a `RestError`.
 */
import { retryClassifier, translateStoreError, type StoreAction, type StoreDialect } from '../object-store/store-errors.js';

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

/** Codes the service uses for throttling and timeouts, whatever the status. */
const RETRYABLE_CODES = new Set(['ServerBusy', 'OperationTimedOut', 'InternalError', 'IngressOverAccountLimit', 'EgressOverAccountLimit', 'TpsOverAccountLimit']);
const NETWORK_CODES = new Set(['REQUEST_SEND_ERROR', 'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'ESOCKETTIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_SOCKET']);

/** How the Azure SDK reports errors, for the shared rules of object-store/store-errors.ts. */
export const AZURE_ERRORS: StoreDialect = {
  statusOf,
  codeOf: errorCodeOf,
  retryAfterMs,
  isNetworkError(err) {
    const code = errorCodeOf(err);
    if (code !== undefined && NETWORK_CODES.has(code)) return true;
    // A body stream cut mid-download has neither a status nor a code of the SDK: its cause says.
    const name = typeof err === 'object' && err !== null ? (err as { name?: unknown }).name : undefined;
    return name === 'RestError' || (code !== undefined && code.startsWith('E'));
  },
  retryableCodes: RETRYABLE_CODES,
  checksumCodes: new Set(['Md5Mismatch', 'Crc64Mismatch', 'InvalidMd5']),
  readOnlyCodes: new Set(['AuthorizationPermissionMismatch']),
  credentialsHint: 'check AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_KEY, and that a SAS allows this operation',
};

/** Retries and backoff for the Azure SDK's errors (object-store/retry.ts). */
export const AZURE_RETRY_CLASSIFIER = retryClassifier(AZURE_ERRORS);

/** The shared translation (object-store/store-errors.ts) of an Azure SDK error. */
export function translateAzureError(err: unknown, action: StoreAction, key: string, location: string): Error {
  return translateStoreError(err, action, key, location, AZURE_ERRORS);
}
