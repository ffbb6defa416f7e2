/**
 * An HTTP proxy on 127.0.0.1 in front of a real storage server (Azurite, radosgw) that injects faults:
 * the next N requests answered with a status (throttling, server errors) without reaching the server,
 * the next response's body damaged. For the retry and error-translation tests of object-store back ends:
 * fault injection, not a mock — every other request reaches the real server.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Refusal {
  remaining: number;
  readonly status: number;
  readonly headers: Record<string, string>;
}

export class FaultProxy {
  readonly #server: Server;
  readonly #target: { host: string; port: number };
  #refusal: Refusal | undefined;
  #corruptNext = false;
  /** Requests that reached the proxy, refused or forwarded. */
  requests = 0;

  private constructor(server: Server, target: { host: string; port: number }) {
    this.#server = server;
    this.#target = target;
  }

  /** Starts a proxy to `target` on a free 127.0.0.1 port. */
  static async start(target: { host: string; port: number }): Promise<FaultProxy> {
    const server = createServer();
    const proxy = new FaultProxy(server, target);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => proxy.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** `http://127.0.0.1:PORT`. */
  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Answers the next `count` requests with `status` (and `headers`) without forwarding them. */
  refuseNext(count: number, status: number, headers: Record<string, string> = {}): void {
    this.#refusal = { remaining: count, status, headers };
  }

  /** Flips one byte in the body of the next forwarded response that has one. */
  corruptNextResponse(): void {
    this.#corruptNext = true;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests++;
    const refusal = this.#refusal;
    if (refusal && refusal.remaining > 0) {
      refusal.remaining--;
      req.resume();
      const code = refusal.status === 503 || refusal.status === 429 ? 'ServerBusy' : 'InjectedFault';
      res.writeHead(refusal.status, { 'content-type': 'application/xml', 'x-ms-error-code': code, ...refusal.headers });
      res.end(`<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>injected fault</Message></Error>`);
      return;
    }
    const upstream = httpRequest({ ...this.#target, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      const corrupt = this.#corruptNext && Number(answer.headers['content-length'] ?? 0) > 0;
      if (corrupt) this.#corruptNext = false;
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      let first = corrupt;
      answer.on('data', (chunk: Buffer) => {
        if (first && chunk.length > 0) {
          chunk = Buffer.from(chunk);
          chunk[0] = chunk[0]! ^ 0xff;
          first = false;
        }
        res.write(chunk);
      });
      answer.on('end', () => res.end());
      answer.on('error', () => res.destroy());
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  }
}
