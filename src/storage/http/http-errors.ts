/**
 * Translation of the vault API's answers into the typed errors of core, at the edge of HttpStorage
 * (docs/service-http-storage.md, "Statuses"). Messages name the operation and the vault URL, never the token.
 */
import type { IncomingMessage } from 'node:http';
import {
  AlreadyExistsError,
  AuthenticationError,
  FerryError,
  ForbiddenError,
  IntegrityError,
  NotFoundError,
  PermanentError,
} from '../../core/errors.js';
import { discard, readText } from './http-transport.js';

/** An answer a retry may fix (408, 429, 500, 502, 503, 504): retried, then reported as an UnavailableError. */
export class TransientHttpError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'TransientHttpError';
  }
}

const TRANSIENT_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/** Network failures worth another attempt: the connection was refused, reset, cut or timed out. */
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/**
 * True for a request that failed because of the network: node's error (or, from fetch, the TypeError's
 * cause) has one of the codes above. Ferry's typed errors and a body source's errors are never network errors.
 */
export function isTransientNetworkError(err: unknown): boolean {
  if (!(err instanceof Error) || err instanceof FerryError) return false;
  const failure = networkFailure(err);
  if (failure instanceof AggregateError && errorCode(failure) === undefined) return failure.errors.some((e) => isTransientCode(errorCode(e)));
  return isTransientCode(errorCode(failure));
}

/** The error that carries the code: node's own, or the cause of fetch's TypeError. */
function networkFailure(err: unknown): unknown {
  return err instanceof TypeError && err.cause instanceof Error ? err.cause : err;
}

/** The network failure's code (ECONNREFUSED, ENOTFOUND…), or undefined. */
export function networkErrorCode(err: unknown): string | undefined {
  return errorCode(networkFailure(err));
}

/** What a failed network call says, for messages: its code and message. */
export function describeNetworkError(err: unknown): string {
  const cause = networkFailure(err);
  const code = errorCode(cause);
  const message = cause instanceof Error ? cause.message : String(cause);
  return code !== undefined && !message.includes(code) ? `${code}: ${message}` : message;
}

/** Why a TLS handshake refused the server's certificate (OpenSSL's verification results, node's host check). */
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** TLS spoken to a server that answers plain HTTP: the "record" OpenSSL reads is an HTTP answer. */
const NOT_TLS_CODES = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_HTTP_REQUEST']);

/**
 * What is wrong with the TLS connection of a failed fetch, as a phrase for a message, or undefined when
 * the failure is not about TLS: `untrusted` when the server's certificate was refused (its code and
 * node's words), `not-tls` when the server does not speak TLS at all.
 */
export function tlsFailure(err: unknown): { readonly kind: 'untrusted' | 'not-tls'; readonly detail: string } | undefined {
  const code = networkErrorCode(err);
  if (code === undefined) return undefined;
  const detail = describeNetworkError(err);
  if (CERTIFICATE_CODES.has(code)) return { kind: 'untrusted', detail };
  if (NOT_TLS_CODES.has(code)) return { kind: 'not-tls', detail };
  return undefined;
}

/** The `{code, message}` of an error answer, when it has one. */
export interface ApiErrorAnswer {
  readonly code: string;
  readonly message: string;
}

/** Error bodies are small JSON documents; anything longer is not read. */
const MAX_ERROR_BODY = 64 * 1024;

/** Reads the `{code, message}` body of an error answer; undefined when there is none (HEAD) or it is not JSON. */
export async function readErrorAnswer(response: IncomingMessage): Promise<ApiErrorAnswer | undefined> {
  if (!(response.headers['content-type'] ?? '').includes('json')) {
    await discard(response);
    return undefined;
  }
  try {
    const text = await readText(response, MAX_ERROR_BODY);
    if (text === undefined) return undefined;
    const body: unknown = JSON.parse(text);
    if (typeof body !== 'object' || body === null) return undefined;
    const { code, message } = body as Record<string, unknown>;
    return typeof code === 'string' && typeof message === 'string' ? { code, message } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The typed error for an answer with a status that is not a success, `what` being the operation
 * ("loading data/ab/… from https://…/v1/vaults/…"). Statuses a retry may fix give a TransientHttpError.
 */
export function errorForStatus(what: string, status: number, answer: ApiErrorAnswer | undefined): Error {
  const detail = answer !== undefined ? answer.message : `HTTP ${status}`;
  const message = `${what}: ${detail}`;
  if (TRANSIENT_STATUSES.has(status)) return new TransientHttpError(`${what}: the server answered ${status} (${detail})`, status);
  if (status >= 300 && status < 400) {
    return new PermanentError(`${what}: the server answered with a redirect (${status}); use the vault URL it points to`);
  }
  switch (status) {
    case 401:
      return new AuthenticationError(`${message}; check the token (FERRY_TOKEN)`);
    case 403:
      return new ForbiddenError(message);
    case 404:
      return new NotFoundError(message);
    case 409:
      return new AlreadyExistsError(message);
    case 416:
    case 422:
      return new IntegrityError(message);
    default:
      // 400, 413, 415, 507 and anything unexpected: the same request will not succeed later.
      return new PermanentError(`${what}: the server refused the request with ${status} (${detail})`);
  }
}

/** The typed error for an error line ending a listing (`{"error":{code,message}}`). */
export function errorForCode(what: string, answer: ApiErrorAnswer): Error {
  const message = `${what}: ${answer.message}`;
  switch (answer.code) {
    case 'NOT_FOUND':
      return new NotFoundError(message);
    case 'INTEGRITY':
      return new IntegrityError(message);
    case 'PERMANENT':
      return new PermanentError(message);
    case 'FORBIDDEN':
      return new ForbiddenError(message);
    case 'UNAUTHENTICATED':
      return new AuthenticationError(message);
    default:
      return new Error(`${message} (${answer.code})`);
  }
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}

const isTransientCode = (code: string | undefined): boolean => code !== undefined && TRANSIENT_NETWORK_CODES.has(code);
