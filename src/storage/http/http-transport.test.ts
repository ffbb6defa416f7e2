import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { IntegrityError, PermanentError } from '../../core/errors.js';
import { seededBytes } from '../testing/conformance.js';
import { HttpStorage } from './http-storage.js';
import { HttpTransport, readText } from './http-transport.js';

const TOKEN = 'ferry_test_0123456789abcdef';

/** A server on 127.0.0.1 answering with `handler`; counts the TCP connections it accepted. */
async function withServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  body: (base: string, connections: () => number) => Promise<void>,
): Promise<void> {
  let connections = 0;
  const server = createServer(handler);
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    await body(`http://127.0.0.1:${port}`, () => connections);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

const readAll = async (req: IncomingMessage): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
};

async function* pieces(data: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

describe('HttpTransport', () => {
  it('keeps connections alive: many requests, one after the other, use one connection', () =>
    withServer(
      (req, res) => void readAll(req).then((b) => res.end(String(b.length))),
      async (base, connections) => {
        const transport = new HttpTransport();
        try {
          for (let i = 0; i < 5; i++) {
            const answer = await transport.request(`${base}/x`, { method: 'PUT', headers: {}, body: Buffer.alloc(1000 + i) });
            assert.equal(await readText(answer, 100), String(1000 + i));
          }
          assert.equal(connections(), 1);
        } finally {
          transport.close();
        }
      },
    ));

  it('sends a streamed body whole, and a Buffer body as it is', () => {
    const data = seededBytes(3 * 1024 * 1024 + 17, 5);
    const received: Buffer[] = [];
    return withServer(
      (req, res) => void readAll(req).then((b) => (received.push(b), res.end())),
      async (base) => {
        const transport = new HttpTransport();
        try {
          (await transport.request(`${base}/a`, { method: 'PUT', headers: { 'content-length': String(data.length) }, body: pieces(data, 100_000) })).resume();
          (await transport.request(`${base}/b`, { method: 'PUT', headers: {}, body: data })).resume();
          (await transport.request(`${base}/c`, { method: 'PUT', headers: {}, body: pieces(data, 65_536) })).resume(); // chunked
          assert.equal(received.length, 3);
          for (const got of received) assert.ok(got.equals(data));
        } finally {
          transport.close();
        }
      },
    );
  });

  it('a throwing source aborts the upload with its own error; the server gets no complete body', () => {
    let closed: (complete: boolean) => void = () => undefined;
    const serverSaw = new Promise<boolean>((resolve) => (closed = resolve));
    return withServer(
      (req, res) => {
        req.on('close', () => closed(req.complete));
        req.on('error', () => undefined);
        req.on('end', () => res.end());
        req.resume();
      },
      async (base) => {
        const transport = new HttpTransport();
        try {
          const boom = new Error('the disk went away');
          async function* failing(): AsyncGenerator<Uint8Array> {
            yield Buffer.alloc(100_000);
            throw boom;
          }
          await assert.rejects(transport.request(`${base}/x`, { method: 'PUT', headers: { 'content-length': '200000' }, body: failing() }), (err) => err === boom);
          assert.equal(await serverSaw, false, 'the server saw the upload cut, not complete');
        } finally {
          transport.close();
        }
      },
    );
  });

  it('an answer before the body was sent stops the upload and is what the caller sees', () =>
    withServer(
      (req, res) => {
        // Refuses at once, without reading the 64 MiB upload.
        res.writeHead(413, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'TOO_LARGE', message: 'too large for this vault' }));
      },
      async (base) => {
        const storage = new HttpStorage({ url: `${base}/v1/vaults/v1`, token: TOKEN, retry: { attempts: 1, baseDelayMs: 1 } });
        let produced = 0;
        async function* endless(): AsyncGenerator<Uint8Array> {
          for (let i = 0; i < 1024; i++) {
            produced += 65_536;
            yield Buffer.alloc(65_536);
          }
        }
        await assert.rejects(storage.save('data/00/big', endless(), { length: 64 * 1024 * 1024 }), (err) => err instanceof PermanentError && /too large for this vault/.test(err.message));
        assert.ok(produced < 64 * 1024 * 1024, `the source was not read to its end (${produced} bytes)`);
      },
    ));

  it('a connection without traffic for the idle timeout fails as a transient error, retried', () =>
    withServer(
      () => undefined, // never answers
      async (base, connections) => {
        const transport = new HttpTransport({ idleTimeoutMs: 100 });
        try {
          const storage = new HttpStorage({ url: `${base}/v1/vaults/v1`, token: TOKEN, transport, retry: { attempts: 2, baseDelayMs: 1 } });
          await assert.rejects(storage.stat('config'), (err: Error) => !(err instanceof PermanentError) && /ETIMEDOUT.*\(2 attempts\)/.test(err.message));
          assert.equal(connections(), 2);
        } finally {
          transport.close();
        }
      },
    ));
});

describe('HttpStorage: connections', () => {
  it('stats, loads, saves and removes one after the other reuse one connection', () =>
    withServer(
      (req, res) => {
        void readAll(req).then(() => {
          if (req.method === 'HEAD') res.writeHead(200, { 'content-length': String(16 * 1024 * 1024) }).end();
          else if (req.method === 'GET') res.writeHead(200, { 'content-length': '3' }).end('abc');
          else res.writeHead(req.method === 'PUT' ? 201 : 204).end();
        });
      },
      async (base, connections) => {
        const storage = new HttpStorage({ url: `${base}/v1/vaults/v1`, token: TOKEN, transport: new HttpTransport() });
        for (let i = 0; i < 3; i++) {
          assert.equal((await storage.stat('data/00/big')).size, 16 * 1024 * 1024);
          assert.equal((await storage.load('data/00/small')).toString(), 'abc');
          await storage.save('data/00/new', Buffer.from('xyz'));
          await storage.remove('locks/l1');
        }
        assert.equal(connections(), 1);
      },
    ));
});

describe('HttpStorage: reading answers', () => {
  const object = seededBytes(1_000_000, 9);
  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    const mode = req.url?.split('/').pop();
    if (mode === 'chunked') {
      // No Content-Length on a ranged answer: the body is gathered as it arrives.
      res.writeHead(206);
      res.write(object.subarray(10, 500_010));
      res.end();
    } else if (mode === 'short') {
      res.writeHead(200, { 'content-length': String(object.length) });
      res.write(object.subarray(0, 1000));
      setTimeout(() => res.destroy(), 10);
    } else {
      res.writeHead(200, { 'content-length': String(object.length) });
      void (async () => {
        for await (const piece of pieces(object, 70_000)) if (!res.write(piece)) await new Promise((resolve) => res.once('drain', resolve));
        res.end();
      })();
    }
  };

  it('reads a body with a Content-Length into one buffer of that size, and one without as it arrives', () =>
    withServer(serve, async (base) => {
      const storage = new HttpStorage({ url: `${base}/v1/vaults/v1`, token: TOKEN });
      const whole = await storage.load('data/00/whole');
      assert.ok(whole.equals(object));
      assert.equal(whole.buffer.byteLength, object.length, 'one buffer of exactly the announced size');
      assert.ok((await storage.load('data/00/chunked', { offset: 10, length: 500_000 })).equals(object.subarray(10, 500_010)));
    }));

  it('a body cut short of its Content-Length is retried and then given up, never taken as whole', () =>
    withServer(serve, async (base) => {
      const storage = new HttpStorage({ url: `${base}/v1/vaults/v1`, token: TOKEN, retry: { attempts: 2, baseDelayMs: 1 } });
      await assert.rejects(storage.load('data/00/short'), (err: Error) => !(err instanceof IntegrityError) && /\(2 attempts\)/.test(err.message));
    }));
});
