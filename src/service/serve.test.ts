import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UserError } from '../core/errors.js';
import { ADMIN_TOKEN_FILE, startService, type RunningService } from './serve.js';
import type { FerryServer } from './server.js';

/** A GET over a fresh connection (no keep-alive), resolving with status and body or rejecting with the socket error. */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { ...headers, connection: 'close' }, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Adds GET /test/slow, which answers only when `release` is called; `entered` resolves when a request is inside. */
function slowRoute(): { install: (server: FerryServer) => void; entered: Promise<void>; release: () => void } {
  let markEntered!: () => void;
  let release!: () => void;
  const entered = new Promise<void>((r) => (markEntered = r));
  const released = new Promise<void>((r) => (release = r));
  return {
    install: (server) =>
      server.app.route({
        method: 'GET',
        url: '/test/slow',
        config: { access: 'public' },
        handler: async () => {
          markEntered();
          await released;
          return { done: true };
        },
      }),
    entered,
    release,
  };
}

describe('ferry serve: start and stop', () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), 'ferry-serve-'))));
  after(() => rm(dir, { recursive: true, force: true }));

  it('writes an admin token (0600) on the first start only, and keeps its data across restarts', async () => {
    const dataDir = join(dir, 'restart');
    const first = await startService({ dataDir, host: '127.0.0.1', port: 0 });
    let token: string;
    try {
      assert.match(first.url, /^http:\/\/127\.0\.0\.1:[1-9][0-9]*$/);
      assert.equal(first.adminTokenFile, join(dataDir, ADMIN_TOKEN_FILE));
      assert.equal((await stat(first.adminTokenFile)).mode & 0o777, 0o600);
      assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
      token = (await readFile(first.adminTokenFile, 'utf8')).trim();
      assert.match(token, /^fry_adm_/);
      assert.equal((await get(`${first.url}/healthz`)).status, 200);
      const res = await fetch(`${first.url}/v1/tenants`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"name":"kept"}' });
      assert.equal(res.status, 201);
    } finally {
      await first.stop();
    }
    const second = await startService({ dataDir, host: '127.0.0.1', port: 0 });
    try {
      assert.equal(second.adminTokenFile, undefined, 'no new admin token on a restart');
      assert.equal((await readFile(join(dataDir, ADMIN_TOKEN_FILE), 'utf8')).trim(), token);
      const listed = await get(`${second.url}/v1/tenants`, { authorization: `Bearer ${token}` });
      assert.equal(listed.status, 200);
      assert.match(listed.body, /"name":"kept"/);
    } finally {
      await second.stop();
    }
  });

  it('stops gracefully: refuses new connections, lets a running request finish, then closes the database', async () => {
    const slow = slowRoute();
    const service = await startService({ dataDir: join(dir, 'graceful'), host: '127.0.0.1', port: 0, beforeListen: slow.install });
    const inFlight = get(`${service.url}/test/slow`);
    await slow.entered;
    const stopped = service.stop();
    await assert.rejects(get(`${service.url}/healthz`), (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');
    let stopDone = false;
    void stopped.then(() => (stopDone = true));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(stopDone, false, 'stop waits for the running request');
    slow.release();
    assert.deepEqual(await inFlight, { status: 200, body: '{"done":true}' });
    await stopped;
    await assert.rejects(service.server.ctx.db.selectFrom('tenants').select('id').execute(), 'the database is closed');
    await service.stop();
  });

  it('closes connections of requests still running at the shutdown timeout', async () => {
    const slow = slowRoute();
    const service: RunningService = await startService({
      dataDir: join(dir, 'timeout'),
      host: '127.0.0.1',
      port: 0,
      shutdownTimeoutMs: 200,
      beforeListen: slow.install,
    });
    const inFlight = get(`${service.url}/test/slow`);
    await slow.entered;
    const started = Date.now();
    await service.stop();
    assert.ok(Date.now() - started < 3000, 'stop did not wait for the stuck request');
    await assert.rejects(inFlight, /socket hang up|ECONNRESET/);
    slow.release();
  });

  it('says clearly when the address is taken', async () => {
    const one = await startService({ dataDir: join(dir, 'one'), host: '127.0.0.1', port: 0 });
    try {
      const port = Number(new URL(one.url).port);
      await assert.rejects(startService({ dataDir: join(dir, 'two'), host: '127.0.0.1', port }), (err) => err instanceof UserError && /address is in use/.test(err.message));
    } finally {
      await one.stop();
    }
  });
});
