// Hostile requests against a real `ferry serve` process, for what inject() cannot do: raw sockets with lying,
// absurd or duplicate lengths, oversized headers, slow and abandoned bodies, a burst of wrong tokens. A vault
// holds a real repository (bin/ferry init + backup over HTTP); afterwards the process still runs and answers,
// and `check --read-data` and a restore prove the data whole.
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { seededBytes } from '../../src/storage/testing/conformance.js';
import { ferryOk, makeTempDir, type TempDir } from './harness.js';
import { startServe, type ServeProcess } from './service-harness.js';

/** Sends `request` on a fresh connection and resolves with the status of the first answer (0 when none came). */
function raw(url: string, request: string | Buffer, options: { waitMs?: number; then?: (send: (b: string) => void) => Promise<void> } = {}): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let answer = '';
    const done = (): void => {
      socket.destroy();
      resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0));
    };
    socket.on('data', (d: Buffer) => {
      answer += d.toString('latin1');
      if (/\r\n\r\n/.test(answer)) done();
    });
    socket.on('error', done);
    socket.on('close', done);
    socket.write(request);
    void options.then?.((b) => void socket.write(b)).then(() => socket.end());
    setTimeout(done, options.waitMs ?? 5000);
  });
}

describe('a real ferry serve under hostile requests', () => {
  let tmp: TempDir;
  let serve: ServeProcess;
  let adminToken: string;
  let vaultUrl: string;
  let vaultPath: string;
  let packKey: string;

  const api = async (method: string, path: string, body?: unknown): Promise<Record<string, string>> => {
    const response = await fetch(`${serve.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    assert.ok(response.ok, `${method} ${path}: ${response.status}`);
    return (await response.json()) as Record<string, string>;
  };
  const alive = async (): Promise<void> => {
    assert.equal(serve.child.exitCode, null, 'the process still runs');
    assert.equal((await fetch(`${serve.url}/healthz`)).status, 200);
  };

  before(async () => {
    tmp = await makeTempDir('ferry-e2e-hostile-');
    const dataDir = join(tmp.path, 'service');
    serve = await startServe(dataDir);
    adminToken = (await readFile(join(dataDir, 'admin.token'), 'utf8')).trim();
    const tenant = await api('POST', '/v1/tenants', { name: 'acme' });
    const account = await api('POST', `/v1/tenants/${tenant.id}/storage-accounts`, { name: 'files' });
    const vault = await api('POST', `/v1/tenants/${tenant.id}/vaults`, { name: 'fileserver', storageAccountId: account.id });
    vaultPath = `/v1/vaults/${vault.id}`;
    vaultUrl = `${serve.url}${vaultPath}`;
    await mkdir(join(tmp.path, 'src', 'sub'), { recursive: true });
    await writeFile(join(tmp.path, 'src', 'a.bin'), seededBytes(2 * 1024 * 1024, 7));
    await writeFile(join(tmp.path, 'src', 'sub', 'b.txt'), 'hostile but whole\n');
    const env = { env: { FERRY_TOKEN: adminToken } };
    await ferryOk(['init', '-r', vaultUrl], env);
    await ferryOk(['backup', '-r', vaultUrl, join(tmp.path, 'src')], env);
    const listing = await (await fetch(`${vaultUrl}/objects?prefix=data/`, { headers: { authorization: `Bearer ${adminToken}` } })).text();
    packKey = (JSON.parse(listing.split('\n')[0]!) as { key: string }).key;
  });
  after(async () => {
    await serve?.stop('SIGKILL');
    await tmp?.cleanup();
  });

  it('answers huge and odd ranges from what exists, and survives', async () => {
    const get = (range: string): Promise<Response> => fetch(`${vaultUrl}/objects/${packKey}`, { headers: { authorization: `Bearer ${adminToken}`, range } });
    const size = Number((await fetch(`${vaultUrl}/objects/${packKey}`, { method: 'HEAD', headers: { authorization: `Bearer ${adminToken}` } })).headers.get('content-length'));
    for (const range of ['bytes=0-2147483647', 'bytes=0-4294967296', `bytes=0-${'9'.repeat(30)}`, 'bytes=-99999999999']) {
      const answer = await get(range);
      assert.equal(answer.status, 206, range);
      assert.equal(answer.headers.get('content-range'), `bytes 0-${size - 1}/${size}`, range);
      assert.equal((await answer.arrayBuffer()).byteLength, size, range);
    }
    const past = await get('bytes=2147483647-2147483648');
    assert.equal(past.status, 416);
    assert.equal(past.headers.get('content-range'), `bytes */${size}`);
    await alive();
  });

  it('refuses absurd, negative, duplicate and conflicting lengths, oversized headers and escaping paths over a raw socket', async () => {
    const auth = `Authorization: Bearer ${adminToken}\r\n`;
    const put = (headers: string, body = ''): string => `PUT ${vaultPath}/objects/keys/${'e'.repeat(64)} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/octet-stream\r\n${headers}\r\n${body}`;
    const cases: ReadonlyArray<readonly [string, string | Buffer, number]> = [
      ['a Content-Length of 10^17', put('Content-Length: 99999999999999999\r\n'), 413],
      ['a Content-Length past 2^64', put(`Content-Length: ${'9'.repeat(40)}\r\n`), 400],
      ['a negative Content-Length', put('Content-Length: -1\r\n'), 400],
      ['two different Content-Lengths', put('Content-Length: 5\r\nContent-Length: 6\r\n', 'abcdef'), 400],
      ['Content-Length with chunked', put('Content-Length: 5\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'), 400],
      ['a 100 KiB header', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(100 * 1024)}\r\n\r\n`, 431],
      ['a JSON body declaring 70 KB', `POST /v1/tenants HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 70000\r\n\r\n{`, 413],
      ['a path with ..', `GET ${vaultPath}/objects/a/../../config HTTP/1.1\r\nHost: x\r\n${auth}\r\n`, 400],
      ['a path with %2e%2e', `GET ${vaultPath}/objects/%2e%2e/%2e%2e/config HTTP/1.1\r\nHost: x\r\n${auth}\r\n`, 400],
      ['a NUL in the path', `GET ${vaultPath}/objects/keys/a\u0000b HTTP/1.1\r\nHost: x\r\n${auth}\r\n`, 400],
      ['a 1 MiB URL', `GET /${'u'.repeat(1024 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
      ['garbage', Buffer.from([0, 1, 2, 3, 255, 13, 10, 13, 10]), 400],
    ];
    for (const [name, request, expected] of cases) {
      const status = await raw(serve.url, request);
      // Node's parser answers some of these itself, with 400 or 431; none may be 5xx, and the service must go on.
      assert.ok(status === expected || (status >= 400 && status < 500), `${name}: ${status}, expected ${expected}`);
      await alive();
    }
  });

  it('drops slow and abandoned bodies without storing anything, and keeps answering meanwhile', async () => {
    const key = `keys/${'f'.repeat(64)}`;
    const head = `PUT ${vaultPath}/objects/${key} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${adminToken}\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n`;
    const slow = raw(serve.url, head, {
      waitMs: 3000,
      then: async (send) => {
        for (let i = 0; i < 5; i++) {
          send('x'.repeat(10));
          await sleep(100);
        }
      },
    });
    // A client that sent half its headers and went quiet: the service still answers others.
    const quiet = raw(serve.url, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: `, { waitMs: 1500 });
    await alive();
    await Promise.all([slow, quiet]);
    await alive();
    const stat = await fetch(`${vaultUrl}/objects/${key}`, { method: 'HEAD', headers: { authorization: `Bearer ${adminToken}` } });
    assert.equal(stat.status, 404, 'nothing of the abandoned upload is stored');
  });

  it('answers a burst of 500 wrong tokens with 429 and Retry-After after the threshold, while the valid token keeps working', async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 500; i++) {
      const answer = await fetch(`${serve.url}/v1/whoami`, { headers: { authorization: `Bearer fry_adm_${String(i).padStart(43, 'w')}` } });
      statuses.push(answer.status);
      if (answer.status === 429) retryAfter ??= answer.headers.get('retry-after');
      await answer.arrayBuffer();
      if (i % 50 === 0) assert.equal((await fetch(`${serve.url}/v1/whoami`, { headers: { authorization: `Bearer ${adminToken}` } })).status, 200);
    }
    const first429 = statuses.indexOf(429);
    assert.ok(first429 > 0 && first429 <= 30, `the first 429 came after ${first429} failures`);
    assert.ok(statuses.slice(first429).every((s) => s === 429), 'every later failure is 429');
    assert.ok(Number(retryAfter) >= 1 && Number(retryAfter) <= 60, `Retry-After: ${retryAfter}`);
    await alive();
  });

  it('still holds the whole repository: check --read-data passes and a restore gives the files back', async () => {
    await alive();
    const env = { env: { FERRY_TOKEN: adminToken } };
    await ferryOk(['check', '-r', vaultUrl, '--read-data'], env);
    const target = join(tmp.path, 'restored');
    await ferryOk(['restore', '-r', vaultUrl, 'latest', '--target', target], env);
    const restored = join(target, tmp.path, 'src');
    assert.ok((await readFile(join(restored, 'a.bin'))).equals(seededBytes(2 * 1024 * 1024, 7)));
    assert.equal(await readFile(join(restored, 'sub', 'b.txt'), 'utf8'), 'hostile but whole\n');
  });
});
