/**
 * The edge between the AWS SDK's errors and the storage seam's typed errors (core/errors.ts): how an S3
 * service exception or a network error says its status and code, and which codes mean what; the rules
 * themselves are shared by the object stores (object-store/store-errors.ts). Only this folder sees the
 * SDK's exceptions.
 */
import { retryClassifier, translateStoreError, type StoreAction, type StoreDialect } from '../object-store/store-errors.js';

interface SdkErrorShape {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly Code?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
  readonly $response?: { readonly statusCode?: unknown; readonly headers?: Record<string, string | undefined> };
}

const shape = (err: unknown): SdkErrorShape => (typeof err === 'object' && err !== null ? err : {});

function statusOf(err: unknown): number | undefined {
  const { $metadata, $response } = shape(err);
  const status = $metadata?.httpStatusCode ?? $response?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The service's code (`NoSuchKey`, `SlowDown`; a HEAD without a body: `NotFound`) or the system's (`ECONNRESET`). */
function codeOf(err: unknown): string | undefined {
  const { name, code, Code } = shape(err);
  if (statusOf(err) !== undefined) {
    const service = Code ?? name;
    return typeof service === 'string' ? service : undefined;
  }
  const system = code ?? name;
  return typeof system === 'string' ? system : undefined;
}

function retryAfterMs(err: unknown): number | undefined {
  const value = shape(err).$response?.headers?.['retry-after'];
  if (value === undefined || !/^[0-9]{1,6}$/.test(value.trim())) return undefined;
  return Number(value) * 1000;
}

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'ERR_STREAM_PREMATURE_CLOSE', 'TimeoutError', 'RequestTimeout']);

/** How the AWS SDK reports errors, for the shared rules of object-store/store-errors.ts. */
export const S3_ERRORS: StoreDialect = {
  statusOf,
  codeOf,
  retryAfterMs,
  isNetworkError(err) {
    const code = codeOf(err);
    return code !== undefined && (NETWORK_CODES.has(code) || /^E[A-Z]+$/.test(code));
  },
  retryableCodes: new Set(['SlowDown', 'RequestTimeout', 'InternalError', 'ServiceUnavailable', 'Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException', 'ServerBusy']),
  checksumCodes: new Set(['BadDigest', 'InvalidDigest', 'XAmzContentSHA256Mismatch']),
  readOnlyCodes: new Set(['AccessDenied']),
  credentialsHint: 'check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), and that the key may do this on the bucket',
};

/** Retries and backoff for the AWS SDK's errors (object-store/retry.ts). */
export const S3_RETRY_CLASSIFIER = retryClassifier(S3_ERRORS);

/** The shared translation (object-store/store-errors.ts) of an AWS SDK error. */
export function translateS3Error(err: unknown, action: StoreAction, key: string, location: string): Error {
  return translateStoreError(err, action, key, location, S3_ERRORS);
}

/** True for "this bucket does not exist". */
export function isBucketMissing(err: unknown): boolean {
  return codeOf(err) === 'NoSuchBucket';
}

/** The HTTP status of an SDK error (416 for a range past the end, 404 for a HEAD of nothing). */
export { statusOf as s3StatusOf };
