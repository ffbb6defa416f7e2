import { setMaxListeners } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { IntegrityError, PermanentError, UnavailableError, UserError } from '../../core/errors.js';
import { assertValidKey, assertValidPrefix, assertValidRange, isValidKey } from '../object-key.js';
import { beginGathered } from '../gathered-writer.js';
import type { ByteRange, ObjectInfo, ObjectWriter, SaveOptions, Storage, StorageProperties } from '../storage.js';
import {
  TransientHttpError,
  describeNetworkError,
  errorForCode,
  errorForStatus,
  isTransientNetworkError,
  readErrorAnswer,
  tlsFailure,
} from './http-errors.js';
import { HttpTransport, defaultTransport, discard } from './http-transport.js';
import { lines } from './ndjson-lines.js';
import { VerifiedSource, checkBuffer } from './verified-source.js';

/** How often and how patiently idempotent requests are retried. */
export interface RetryPolicy {
  /** Attempts in all, the first included (>= 1). */
  readonly attempts: number;
  /** The wait before the second attempt; it doubles for each further one, with jitter. */
  readonly baseDelayMs: number;
}

export interface HttpStorageOptions {
  /** The vault's URL, `http(s)://HOST[:PORT]/v1/vaults/<vaultId>`, without credentials, query or fragment. */
  readonly url: string;
  /** The bearer token; sent only in the Authorization header. */
  readonly token: string;
  readonly retry?: RetryPolicy;
  /** Waits between attempts (injectable so tests need not wait). */
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * What requests go through; default the process's transport trusting the system's CAs. The CLI passes
   * one that trusts the CA given with --ca-cert or pinned at registration. Shared: `close` leaves it open.
   */
  readonly transport?: HttpTransport;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 200 };

const SHA256_HEADER = 'x-ferry-sha256';

/**
 * A Storage over the Ferry service's vault object API (docs/service-http-storage.md), over `node:http(s)`
 * with keep-alive connections (http-transport.ts).
 *
 * - Keys, prefixes and ranges are checked before any request (PermanentError), like every back end.
 * - Statuses map to the typed errors of core (http-errors.ts); the token appears in no URL and no message.
 * - Uploads stream (a Buffer is checked against `length`/`sha256` before it is sent, a stream while it is
 *   sent: a mismatch or a throwing source aborts the request and the server stores nothing). The declared
 *   length travels as Content-Length, the sha256 in `x-ferry-sha256`; the server also checks every
 *   content-named key against the SHA-256 its name claims.
 * - Requests that are safe to repeat are retried on connection failures and 408/429/5xx (not 507) with
 *   exponential backoff: load, stat, remove, saves of a Buffer (the protocol makes them idempotent), and a
 *   listing until its first object was delivered. A streamed save is never retried: its source is spent.
 * - `close` aborts requests in flight; the storage is unusable afterwards.
 */
export class HttpStorage implements Storage {
  readonly properties: StorageProperties;
  readonly #base: string;
  readonly #authorization: string;
  readonly #retry: RetryPolicy;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #closing = new AbortController();
  readonly #transport: HttpTransport;

  constructor(options: HttpStorageOptions) {
    this.#base = vaultBase(options.url);
    this.#authorization = `Bearer ${checkedToken(options.token)}`;
    this.#retry = options.retry ?? DEFAULT_RETRY;
    if (!Number.isSafeInteger(this.#retry.attempts) || this.#retry.attempts < 1) {
      throw new RangeError(`retry attempts must be a positive integer, got ${this.#retry.attempts}`);
    }
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#transport = options.transport ?? defaultTransport();
    // Every request in flight listens to this one signal.
    setMaxListeners(0, this.#closing.signal);
    this.properties = { location: this.#base, serverSideCopy: false };
  }

  async save(key: string, data: Uint8Array | AsyncIterable<Uint8Array>, options: SaveOptions = {}): Promise<void> {
    assertValidKey(key);
    const what = `saving ${key} to ${this.#base}`;
    if (data instanceof Uint8Array) {
      checkBuffer(key, data, options);
      return this.#attempts(what, () => true, () => this.#put(what, key, data, data.byteLength, options));
    }
    const source = new VerifiedSource(key, data, options);
    try {
      await this.#attempts(what, () => false, () => this.#put(what, key, source.chunks(), options.length, options));
    } catch (err) {
      // A failing source cuts the upload, which may surface as a network error: the source's own error counts.
      const sourceError = source.error;
      if (sourceError !== undefined) throw sourceError.value;
      throw err;
    }
  }

  /** Gathers the bytes in memory and PUTs them at commit, as a whole save (see beginGathered). */
  begin(folder: string): Promise<ObjectWriter> {
    return beginGathered(this, folder);
  }

  async load(key: string, range?: ByteRange): Promise<Buffer> {
    assertValidKey(key);
    if (range !== undefined) assertValidRange(key, range);
    const what = `loading ${key} from ${this.#base}`;
    if (range?.length === 0) {
      // A zero-length range cannot be written as an HTTP range: only its offset needs checking.
      const { size } = await this.stat(key);
      if (range.offset > size) throw new IntegrityError(`${what}: it has ${size} bytes, too few for the range ${range.offset}+0`);
      return Buffer.alloc(0);
    }
    return this.#attempts(what, () => true, async () => {
      const headers: Record<string, string> = {};
      if (range !== undefined) headers.range = `bytes=${range.offset}-${range.offset + range.length - 1}`;
      const response = await this.#send('GET', this.#objectUrl(key), { headers });
      const expectedStatus = range === undefined ? 200 : 206;
      if (response.statusCode !== expectedStatus) throw await this.#failure(what, response);
      const length = range?.length ?? contentLength(what, response);
      return readBody(what, response, length);
    });
  }

  async stat(key: string): Promise<ObjectInfo> {
    assertValidKey(key);
    const what = `checking ${key} in ${this.#base}`;
    return this.#attempts(what, () => true, async () => {
      const response = await this.#send('HEAD', this.#objectUrl(key), {});
      if (response.statusCode !== 200) throw await this.#failure(what, response);
      await discard(response);
      return { key, size: contentLength(what, response) };
    });
  }

  async list(prefix: string, onObject: (info: ObjectInfo) => void | Promise<void>): Promise<void> {
    assertValidPrefix(prefix);
    const what = `listing ${prefix === '' ? 'all objects' : prefix} in ${this.#base}`;
    let delivered = 0;
    // Once an object was handed to the callback, a repeated listing would hand it over twice.
    await this.#attempts(what, () => delivered === 0, async () => {
      const url = `${this.#base}/objects?prefix=${encodeURIComponent(prefix)}`;
      const response = await this.#send('GET', url, { headers: { accept: 'application/x-ndjson' } });
      if (response.statusCode !== 200) throw await this.#failure(what, response);
      let count = 0;
      for await (const line of lines(response)) {
        const entry = parseListingLine(what, line, prefix);
        if ('error' in entry) throw errorForCode(what, entry.error);
        if ('done' in entry) {
          if (entry.count !== count) throw new PermanentError(`${what}: the server counted ${entry.count} objects, but sent ${count}`);
          return;
        }
        count++;
        delivered++;
        await onObject(entry);
      }
      throw new TransientHttpError(`${what}: the listing ended before its last line`, 0);
    });
  }

  async remove(key: string): Promise<void> {
    assertValidKey(key);
    const what = `removing ${key} from ${this.#base}`;
    await this.#attempts(what, () => true, async () => {
      const response = await this.#send('DELETE', this.#objectUrl(key), {});
      if (!isSuccess(response)) throw await this.#failure(what, response);
      await discard(response);
    });
  }

  async close(): Promise<void> {
    this.#closing.abort(new PermanentError(`the storage at ${this.#base} was closed`));
  }

  async #put(
    what: string,
    key: string,
    body: Uint8Array | AsyncIterable<Uint8Array>,
    length: number | undefined,
    { sha256, ifAbsent }: SaveOptions,
  ): Promise<void> {
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (length !== undefined) headers['content-length'] = String(length);
    if (sha256 !== undefined) headers[SHA256_HEADER] = sha256;
    // Create only: the service saves with ifAbsent and answers 409 (AlreadyExistsError) for an existing object.
    if (ifAbsent === true) headers['if-none-match'] = '*';
    const response = await this.#send('PUT', this.#objectUrl(key), { headers, body });
    if (response.statusCode !== 200 && response.statusCode !== 201) throw await this.#failure(what, response);
    await discard(response);
  }

  #objectUrl(key: string): string {
    // Valid keys use only [A-Za-z0-9._-/] and have no "." or ".." segment: they go into the path as they are.
    return `${this.#base}/objects/${key}`;
  }

  async #send(
    method: string,
    url: string,
    init: { headers?: Record<string, string>; body?: Uint8Array | AsyncIterable<Uint8Array> },
  ): Promise<IncomingMessage> {
    if (this.#closing.signal.aborted) throw this.#closing.signal.reason;
    // Redirects could carry the token elsewhere: the transport never follows them, and a redirect answer is
    // an error (errorForStatus).
    return this.#transport.request(url, {
      method,
      headers: { ...init.headers, authorization: this.#authorization },
      ...(init.body !== undefined ? { body: init.body } : {}),
      signal: this.#closing.signal,
    });
  }

  /** The error for an answer that is not the expected success (consumes the body). */
  async #failure(what: string, response: IncomingMessage): Promise<Error> {
    if (isSuccess(response)) {
      await discard(response);
      return new PermanentError(`${what}: unexpected answer ${response.statusCode} from the server`);
    }
    return errorForStatus(what, response.statusCode ?? 0, await readErrorAnswer(response));
  }

  /**
   * Runs `operation`, again after a transient failure while `repeatable()` says so and attempts remain.
   * A closed storage, a typed error or a source's error is thrown as it is.
   */
  async #attempts<T>(what: string, repeatable: () => boolean, operation: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await operation();
      } catch (err) {
        if (this.#closing.signal.aborted) throw this.#closing.signal.reason;
        const tls = tlsFailure(err);
        if (tls !== undefined) throw new PermanentError(`${what}: ${describeTlsFailure(tls)}`, { cause: err });
        const transient = err instanceof TransientHttpError || isTransientNetworkError(err);
        if (!transient) throw err;
        if (!repeatable() || attempt >= this.#retry.attempts) throw giveUp(what, err, attempt);
        const delay = this.#retry.baseDelayMs * 2 ** (attempt - 1);
        await this.#sleep(delay / 2 + Math.random() * (delay / 2));
      }
    }
  }
}

function describeTlsFailure(tls: NonNullable<ReturnType<typeof tlsFailure>>): string {
  return tls.kind === 'untrusted'
    ? `the server's TLS certificate is not trusted (${tls.detail}); give the CA that signed it with --ca-cert FILE or FERRY_CA_CERT`
    : `the server does not speak TLS there (${tls.detail}); use its http:// URL`;
}

/**
 * The final error of a transient failure: an UnavailableError (a later run may succeed), which the CLI
 * prints as one line saying so.
 */
function giveUp(what: string, err: unknown, attempts: number): UnavailableError {
  const tries = attempts === 1 ? '' : ` (${attempts} attempts)`;
  const retry = '; run the command again once the service is reachable';
  if (err instanceof TransientHttpError) return new UnavailableError(`${err.message}${tries}${retry}`, { cause: err });
  return new UnavailableError(`${what}: the connection failed: ${describeNetworkError(err)}${tries}${retry}`, { cause: err });
}

/** Checks the vault URL and returns it without a trailing slash; refuses credentials, query and fragment. */
function vaultBase(location: string): string {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw new UserError('the vault URL is not a URL; expected http(s)://HOST[:PORT]/v1/vaults/VAULT');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UserError(`the vault URL must start with http:// or https://, not ${url.protocol}//`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new UserError('the vault URL must not contain credentials; pass the token in FERRY_TOKEN');
  }
  if (url.search !== '' || url.hash !== '') {
    throw new UserError('the vault URL must not have a query or fragment; pass the token in FERRY_TOKEN');
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function checkedToken(token: string): string {
  if (token.length === 0) throw new UserError('no token for the vault: set FERRY_TOKEN');
  // A bearer token is printable ASCII without spaces; anything else would break or forge headers.
  if (!/^[\x21-\x7e]+$/.test(token)) throw new UserError('the vault token is malformed: it must be printable ASCII without spaces');
  return token;
}

const isSuccess = (response: IncomingMessage): boolean => response.statusCode !== undefined && response.statusCode >= 200 && response.statusCode < 300;

function contentLength(what: string, response: IncomingMessage): number {
  const header = response.headers['content-length'];
  const size = header === undefined ? NaN : Number(header);
  if (!Number.isSafeInteger(size) || size < 0) throw new PermanentError(`${what}: the answer has no valid Content-Length`);
  return size;
}

/** Bodies up to this size are read into a buffer allocated once from their Content-Length. */
const PREALLOCATE_LIMIT = 64 * 1024 * 1024;

/**
 * Reads exactly `length` bytes of the body into one Buffer; a longer or shorter body is damage. When the
 * answer declares that length (and it is at most 64 MiB) the Buffer is allocated once and filled as bytes
 * arrive; otherwise memory is taken as bytes arrive, never from `length` alone: a range past the end of
 * the object (the server answers the part that exists) must fail, not allocate what was asked for.
 */
async function readBody(what: string, response: IncomingMessage, length: number): Promise<Buffer> {
  const header = response.headers['content-length'];
  const declared = header === undefined ? undefined : Number(header);
  if (declared !== undefined && declared !== length) {
    await discard(response);
    throw new IntegrityError(`${what}: the answer has ${header} bytes, expected ${length}`);
  }
  // Every byte of the preallocated buffer is written before it is returned (filled === length).
  const whole = declared !== undefined && length <= PREALLOCATE_LIMIT ? Buffer.allocUnsafe(length) : undefined;
  const chunks: Buffer[] = [];
  let filled = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    if (filled + chunk.byteLength > length) throw new IntegrityError(`${what}: the answer has more than ${length} bytes`);
    if (whole !== undefined) chunk.copy(whole, filled);
    else chunks.push(chunk);
    filled += chunk.byteLength;
  }
  if (filled !== length) throw new IntegrityError(`${what}: the answer has ${filled} bytes, expected ${length}`);
  if (whole !== undefined) return whole;
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, filled);
}

type ListingLine = ObjectInfo | { readonly done: true; readonly count: number } | { readonly error: { code: string; message: string } };

/** One line of a listing, checked: an object under `prefix`, the closing line, or an error line. */
function parseListingLine(what: string, line: string, prefix: string): ListingLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new PermanentError(`${what}: the server sent a listing line that is not JSON`);
  }
  if (typeof value === 'object' && value !== null) {
    const fields = value as Record<string, unknown>;
    const { key, size, done, count, error } = fields;
    if (typeof key === 'string' && isValidKey(key) && key.startsWith(prefix) && isSize(size)) return { key, size };
    if (done === true && isSize(count)) return { done, count };
    if (typeof error === 'object' && error !== null) {
      const { code, message } = error as Record<string, unknown>;
      if (typeof code === 'string' && typeof message === 'string') return { error: { code, message } };
    }
  }
  throw new PermanentError(`${what}: the server sent a listing line that is not an object, a closing or an error line`);
}

const isSize = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
