import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import {
  AuthenticationError,
  ForbiddenError,
  IntegrityError,
  NotFoundError,
  PermanentError,
  UnavailableError,
  UserError,
} from '../../core/errors.js';
import { seededBytes } from '../testing/conformance.js';
import { HttpStorage } from './http-storage.js';

const TOKEN = 'ferry_test_0123456789abcdef';

/** What the fault server saw of one request. */
interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

/** Answers the n-th request (1-based) with `handler`; every request's method, URL, headers and body are kept. */
type Handler = (n: number, req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

async function withServer(handler: Handler, body: (url: string, seen: SeenRequest[], delays: number[]) => Promise<void>): Promise<void> {
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', () => undefined);
    req.on('end', () => {
      const request = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      seen.push(request);
      handler(seen.length, req, res, request.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const delays: number[] = [];
  try {
    await body(`http://127.0.0.1:${port}/v1/vaults/v1`, seen, delays);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** An HttpStorage that records its backoff delays instead of waiting. */
function storageAt(url: string, delays: number[], attempts = 3): HttpStorage {
  return new HttpStorage({ url, token: TOKEN, retry: { attempts, baseDelayMs: 100 }, sleep: async (ms) => void delays.push(ms) });
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};
const drop = (req: IncomingMessage): void => void req.socket.destroy();

describe('HttpStorage: retries', () => {
  it('retries a load whose connection was dropped, with backoff', () =>
    withServer(
      (n, req, res) => (n === 1 ? drop(req) : res.writeHead(200, { 'content-length': '5' }).end('hello')),
      async (url, seen, delays) => {
        const storage = storageAt(url, delays);
        assert.equal((await storage.load('config')).toString(), 'hello');
        assert.equal(seen.length, 2);
        assert.equal(delays.length, 1);
        assert.ok(delays[0]! >= 50 && delays[0]! <= 100, `first delay ${delays[0]}`);
      },
    ));

  it('retries 503 and gives up after the last attempt with an UnavailableError naming the attempts', () =>
    withServer(
      (_n, _req, res) => json(res, 503, { code: 'UNAVAILABLE', message: 'shutting down' }),
      async (url, seen, delays) => {
        const storage = storageAt(url, delays, 4);
        await assert.rejects(storage.load('config'), (err: Error) => {
          assert.ok(err instanceof UnavailableError, 'unavailable, not refused: a later run may succeed');
          assert.match(err.message, /503 \(shutting down\) \(4 attempts\); run the command again once the service is reachable/);
          return true;
        });
        assert.equal(seen.length, 4);
        assert.equal(delays.length, 3);
        assert.ok(delays[1]! > delays[0]! / 2 && delays[2]! >= 200, `delays grow: ${delays.join(', ')}`);
      },
    ));

  it('retries a save of a Buffer (idempotent) but never a streamed save', () =>
    withServer(
      (n, req, res) => (n === 1 || n === 3 ? drop(req) : json(res, 201, { stored: true })),
      async (url, seen, delays) => {
        const storage = storageAt(url, delays);
        await storage.save('config', seededBytes(100), { length: 100 });
        assert.equal(seen.length, 2);
        assert.ok(seen[1]!.body.equals(seededBytes(100)), 'the retry sends the whole object again');
        const stream = async function* (): AsyncGenerator<Uint8Array> {
          yield seededBytes(100);
        };
        await assert.rejects(storage.save('config', stream(), { length: 100 }), (err: unknown) => err instanceof UnavailableError && /connection failed.*run the command again/.test(err.message));
        assert.equal(seen.length, 3, 'a spent stream is not sent again');
      },
    ));

  it('retries a listing cut off before its first object, not one cut off after it', () =>
    withServer(
      (n, _req, res) => {
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        if (n === 1) res.end(''); // no closing line: incomplete
        else res.end('{"key":"index/a","size":1}\n'); // one object, then cut
      },
      async (url, seen, delays) => {
        const storage = storageAt(url, delays);
        const keys: string[] = [];
        await assert.rejects(storage.list('', (info) => void keys.push(info.key)), /ended before its last line/);
        assert.deepEqual(keys, ['index/a'], 'each object is delivered once');
        assert.equal(seen.length, 2);
      },
    ));

  it('does not retry answers that a retry cannot change', () =>
    withServer(
      (_n, _req, res) => json(res, 403, { code: 'FORBIDDEN', message: 'agents may not remove snapshots (snapshots/)' }),
      async (url, seen, delays) => {
        await assert.rejects(storageAt(url, delays).remove('snapshots/abc'), ForbiddenError);
        assert.equal(seen.length, 1);
        assert.deepEqual(delays, []);
      },
    ));
});

describe('HttpStorage: statuses and answers', () => {
  const cases: [number, new (...args: never[]) => Error][] = [
    [400, PermanentError],
    [401, AuthenticationError],
    [403, ForbiddenError],
    [404, NotFoundError],
    [413, PermanentError],
    [416, IntegrityError],
    [422, IntegrityError],
    [507, PermanentError],
    [302, PermanentError],
  ];
  for (const [status, type] of cases) {
    it(`${status} → ${type.name}, with the server's message`, () =>
      withServer(
        (_n, _req, res) => json(res, status, { code: 'X', message: `server says ${status}` }),
        async (url, seen, delays) => {
          await assert.rejects(storageAt(url, delays).load('index/i', { offset: 0, length: 4 }), (err: Error) => {
            assert.ok(err instanceof type, `${err.constructor.name}: ${err.message}`);
            if (status !== 302) assert.match(err.message, new RegExp(`loading index/i from http://127\\.0\\.0\\.1:\\d+/v1/vaults/v1: .*server says ${status}`));
            return true;
          });
          assert.equal(seen.length, 1);
        },
      ));
  }

  it('sends the token only in the Authorization header and never shows it in a message', () =>
    withServer(
      (n, req, res) => (n <= 3 ? json(res, 500, { code: 'INTERNAL', message: 'internal error' }) : drop(req)),
      async (url, seen, delays) => {
        const storage = storageAt(url, delays);
        const failures = await Promise.allSettled([storage.load('config'), storage.load('config')]);
        for (const failure of failures) {
          assert.equal(failure.status, 'rejected');
          const message = String(failure.status === 'rejected' ? failure.reason : '');
          assert.ok(!message.includes(TOKEN), message);
        }
        for (const request of seen) {
          assert.equal(request.headers.authorization, `Bearer ${TOKEN}`);
          assert.ok(!request.url.includes(TOKEN));
        }
      },
    ));

  it('sends the declared length and sha256, and the key in the path', () =>
    withServer(
      (_n, _req, res) => json(res, 201, { stored: true }),
      async (url, seen, delays) => {
        const storage = storageAt(url, delays);
        const sha256 = 'a'.repeat(64);
        const stream = async function* (): AsyncGenerator<Uint8Array> {
          yield Buffer.from('ab');
          yield Buffer.from('c');
        };
        await assert.rejects(storage.save('data/ab/x', stream(), { length: 3, sha256 }), IntegrityError, 'checked before the end');
        await storage.save('data/ab/x', stream(), { length: 3 });
        const last = seen.at(-1)!;
        assert.equal(last.method, 'PUT');
        assert.equal(last.url, '/v1/vaults/v1/objects/data/ab/x');
        assert.equal(last.headers['content-length'], '3');
        assert.equal(last.headers['content-type'], 'application/octet-stream');
        assert.equal(last.body.toString(), 'abc');
        await storage.save('config', Buffer.from('abc'), { sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' });
        assert.equal(seen.at(-1)!.headers['x-ferry-sha256'], 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
      },
    ));

  it('refuses a body of another length than announced, and a stat without a size', () =>
    withServer(
      (n, _req, res) => {
        if (n === 1) res.writeHead(206, { 'content-length': '3' }).end('abc');
        else res.writeHead(200).end();
      },
      async (url, _seen, delays) => {
        const storage = storageAt(url, delays);
        await assert.rejects(storage.load('index/i', { offset: 0, length: 4 }), IntegrityError);
        await assert.rejects(storage.stat('index/i'), /no valid Content-Length/);
      },
    ));

  it('checks listing lines: error lines are typed, bad lines and wrong counts are refused', () =>
    withServer(
      (n, _req, res) => {
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        const bodies = [
          '{"key":"index/a","size":1}\n{"error":{"code":"PERMANENT","message":"disk on fire"}}\n',
          '{"key":"index/a","size":1}\n{"done":true,"count":2}\n',
          '{"key":"../etc","size":1}\n{"done":true,"count":1}\n',
          '{"key":"data/a","size":1}\n{"done":true,"count":1}\n',
          'not json\n',
        ];
        res.end(bodies[n - 1]);
      },
      async (url, _seen, delays) => {
        const storage = storageAt(url, delays);
        await assert.rejects(storage.list('', () => undefined), (err) => err instanceof PermanentError && /disk on fire/.test(err.message));
        await assert.rejects(storage.list('', () => undefined), /counted 2 objects, but sent 1/);
        await assert.rejects(storage.list('', () => undefined), /not an object, a closing or an error line/);
        await assert.rejects(storage.list('index/', () => undefined), /not an object, a closing or an error line/, 'outside the prefix');
        await assert.rejects(storage.list('', () => undefined), /not JSON/);
      },
    ));

  it('close aborts what is in flight and refuses what comes after', () =>
    withServer(
      () => undefined, // never answers
      async (url, _seen, delays) => {
        const storage = storageAt(url, delays);
        const pending = storage.load('config');
        await new Promise((resolve) => setTimeout(resolve, 50));
        await storage.close();
        await assert.rejects(pending, /was closed/);
        await assert.rejects(storage.stat('config'), /was closed/);
      },
    ));
});

describe('HttpStorage: locations', () => {
  it('keeps the location without a trailing slash and without credentials', () => {
    const storage = new HttpStorage({ url: 'https://vault.example:8443/v1/vaults/v-1/', token: TOKEN });
    assert.equal(storage.properties.location, 'https://vault.example:8443/v1/vaults/v-1');
    assert.equal(storage.properties.serverSideCopy, false);
  });

  const refused: [string, string, RegExp][] = [
    ['https://user:secret@vault.example/v1/vaults/v', TOKEN, /must not contain credentials/],
    ['https://vault.example/v1/vaults/v?token=secret', TOKEN, /must not have a query/],
    ['https://vault.example/v1/vaults/v#secret', TOKEN, /must not have a query or fragment/],
    ['ftp://vault.example/v1/vaults/v', TOKEN, /http:\/\/ or https:\/\//],
    ['not a url', TOKEN, /not a URL/],
    ['https://vault.example/v1/vaults/v', '', /set FERRY_TOKEN/],
    ['https://vault.example/v1/vaults/v', 'two words', /malformed/],
    ['https://vault.example/v1/vaults/v', 'line\nbreak', /malformed/],
  ];
  for (const [url, token, message] of refused) {
    it(`refuses ${JSON.stringify(url)} with token ${JSON.stringify(token)}`, () => {
      assert.throws(
        () => new HttpStorage({ url, token }),
        (err: Error) => err instanceof UserError && message.test(err.message) && !err.message.includes('secret'),
      );
    });
  }
});
