/**
 * HTTP/1.1 requests over `node:http`/`node:https` with keep-alive connection pools: what HttpStorage and the
 * CLI's service client send with. Chosen over `fetch` because fetch copies every request body twice (its
 * body extraction and the web stream's chunk clone, docs/PERFORMANCE.md); here a Buffer body goes to the
 * socket as it is, and a streamed body chunk by chunk with the socket's backpressure.
 */
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/** What one request sends. */
export interface TransportRequest {
  readonly method: string;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * The body, written without copying: a Buffer or string whole, a stream chunk by chunk as the socket takes
   * them. A streamed source must not reuse a chunk's memory after yielding it. When the source throws, the
   * request is aborted (the server sees a cut upload) and the promise rejects with the source's error.
   */
  readonly body?: Uint8Array | string | AsyncIterable<Uint8Array>;
  /** Aborts the request, or the reading of its answer. */
  readonly signal?: AbortSignal;
}

export interface HttpTransportOptions {
  /** PEM CA certificates to trust for https:// instead of the system's; host names are always verified. */
  readonly ca?: string | undefined;
  /**
   * A connection without traffic for this long fails with ETIMEDOUT (a transient network error); default
   * 5 minutes, the header and body timeouts fetch had.
   */
  readonly idleTimeoutMs?: number;
}

const DEFAULT_IDLE_TIMEOUT_MS = 300_000;

/** Answers up to this size are drained for the connection's reuse instead of cutting the connection. */
const DRAIN_LIMIT = 64 * 1024;

/**
 * Sends requests through one keep-alive pool per scheme. Redirects are never followed (the caller sees the
 * 3xx). Idle pooled connections do not keep the process alive. Safe to share by any number of callers.
 */
export class HttpTransport {
  readonly #http: HttpAgent;
  readonly #https: HttpsAgent;
  readonly #idleTimeoutMs: number;

  constructor(options: HttpTransportOptions = {}) {
    this.#idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    // `timeout` also lets node close a pooled connection a second before the server's `Keep-Alive: timeout=N`
    // says it will, so that a request rarely meets a connection the server is closing.
    const pool = { keepAlive: true, timeout: this.#idleTimeoutMs };
    this.#http = new HttpAgent(pool);
    // `ca` replaces the system's CAs for these connections: a certificate must chain to one of these.
    this.#https = new HttpsAgent({ ...pool, ...(options.ca !== undefined ? { ca: options.ca } : {}) });
  }

  /**
   * Sends a request; resolves with the answer as soon as its status and headers arrive (read or
   * {@link discard} its body). Rejects with node's network and TLS errors (`code` set: ECONNREFUSED,
   * ECONNRESET, DEPTH_ZERO_SELF_SIGNED_CERT…), an AbortError when `signal` aborts, or the body source's error.
   */
  request(url: string, init: TransportRequest): Promise<IncomingMessage> {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    if (!secure && target.protocol !== 'http:') return Promise.reject(new TypeError(`not an http(s) URL: ${target.protocol}`));
    return new Promise((resolve, reject) => {
      const options = {
        method: init.method,
        headers: init.headers,
        timeout: this.#idleTimeoutMs,
        ...(init.signal !== undefined ? { signal: init.signal } : {}),
      };
      const request = secure ? httpsRequest(target, { ...options, agent: this.#https }) : httpRequest(target, { ...options, agent: this.#http });
      const upload = { done: false, answered: false };
      // Persistent: a socket may fail again after the answer arrived, and an unheard 'error' would crash.
      request.on('error', reject);
      request.on('timeout', () => request.destroy(Object.assign(new Error(`no traffic for ${this.#idleTimeoutMs / 1000} s`), { code: 'ETIMEDOUT' })));
      request.once('response', (response) => {
        upload.answered = true;
        if (init.method === 'HEAD') HEAD_ANSWERS.add(response);
        // An answer before the whole body was sent (an early refusal): the connection cannot be reused.
        if (!upload.done) response.once('end', () => request.destroy());
        resolve(response);
      });
      const body = init.body;
      if (body === undefined || typeof body === 'string' || body instanceof Uint8Array) {
        upload.done = true;
        request.end(body);
      } else {
        void writeStream(request, body, upload);
      }
    });
  }

  /** Closes every pooled connection; requests in flight fail. */
  close(): void {
    this.#http.destroy();
    this.#https.destroy();
  }
}

/** Writes `source` to `request` with backpressure; a throwing source destroys the request with its error. */
async function writeStream(request: ClientRequest, source: AsyncIterable<Uint8Array>, upload: { done: boolean; answered: boolean }): Promise<void> {
  try {
    for await (const chunk of source) {
      if (request.destroyed || upload.answered) return;
      if (!request.write(chunk)) await drained(request);
    }
    if (request.destroyed || upload.answered) return;
    upload.done = true;
    request.end();
  } catch (err) {
    request.destroy(err instanceof Error ? err : new Error(String(err)));
  }
}

const drained = (request: ClientRequest): Promise<void> =>
  new Promise((resolve) => {
    const done = (): void => {
      request.off('drain', done);
      request.off('close', done);
      resolve();
    };
    request.on('drain', done);
    request.on('close', done);
  });

/** Answers to HEAD requests: they have no body, whatever their Content-Length says. */
const HEAD_ANSWERS = new WeakSet<IncomingMessage>();

/**
 * Lets go of an answer whose body is not wanted: a small one is drained so that its connection goes back
 * to the pool (resolves once it has, so that the next request finds it there), a large or unknown one is cut.
 */
export async function discard(response: IncomingMessage): Promise<void> {
  const bodyless = HEAD_ANSWERS.has(response) || response.statusCode === 204 || response.statusCode === 304;
  const length = Number(response.headers['content-length']);
  if (response.readableEnded) return;
  if (!bodyless && !response.complete && !(Number.isSafeInteger(length) && length <= DRAIN_LIMIT)) {
    response.destroy();
    return;
  }
  // Even a complete answer must be read to its end: only then does its connection go back to the pool.
  const ended = new Promise<void>((resolve) => {
    response.once('end', resolve);
    response.once('close', resolve);
  });
  response.resume();
  await ended;
  // The connection goes back to the pool on the tick after the end.
  await new Promise((resolve) => setImmediate(resolve));
}

/** The body as UTF-8 text; undefined (and the connection cut) when it is longer than `limit` bytes. */
export async function readText(response: IncomingMessage, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > limit) {
      response.destroy();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

/** The transport trusting the system's CAs, shared by everyone who gives no other. */
let systemTransport: HttpTransport | undefined;

/** The process's transport that trusts the system's CAs (created on first use). */
export function defaultTransport(): HttpTransport {
  systemTransport ??= new HttpTransport();
  return systemTransport;
}
