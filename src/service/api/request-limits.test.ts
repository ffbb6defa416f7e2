import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createServiceLogger, loggableUrl } from '../logger.js';
import { bearer, startServiceFixture, type ServiceFixture } from '../testing/service-fixture.js';
import { buildWorld, type World } from '../testing/world.js';

/** Sends raw bytes to the server and resolves with what came back before the server answered and closed or paused. */
function rawExchange(port: number, head: string, bodyPart: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (d: Buffer) => {
      answer += d.toString();
      if (answer.includes('\r\n\r\n') && /\}$/.test(answer.trim())) socket.destroy();
    });
    socket.on('close', () => resolve(answer));
    socket.on('error', (err) => (answer ? resolve(answer) : reject(err)));
    socket.write(head);
    socket.write(bodyPart);
    // Never send the rest: a server that waited for the whole body would answer only at this timeout.
    setTimeout(() => socket.destroy(), 5000).unref();
  });
}

describe('request limits and validation', () => {
  let f: ServiceFixture;
  let w: World;
  beforeEach(async () => {
    f = await startServiceFixture();
    w = await buildWorld(f);
  });
  afterEach(() => f.close());

  it('refuses a body over 64 KiB with 413 as soon as its Content-Length says so, without reading it', async () => {
    await f.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = f.app.server.address() as AddressInfo;
    const started = Date.now();
    const answer = await rawExchange(
      port,
      `POST /v1/tenants HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${w.adminToken}\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n\r\n`,
      '{"name":"',
    );
    assert.match(answer, /^HTTP\/1\.1 413 /);
    assert.match(answer, /"code":"FST_ERR_CTP_BODY_TOO_LARGE"/);
    assert.ok(Date.now() - started < 4000, 'answered before the client sent the body');
    assert.equal((await f.db.selectFrom('tenants').select('id').execute()).length, 2);
  });

  it('stops reading a chunked body once it passes 64 KiB', async () => {
    await f.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = f.app.server.address() as AddressInfo;
    const chunk = 'x'.repeat(70 * 1024);
    const answer = await rawExchange(
      port,
      `POST /v1/tenants HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${w.adminToken}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
      `${chunk.length.toString(16)}\r\n${chunk}\r\n`,
    );
    assert.match(answer, /^HTTP\/1\.1 413 /);
  });

  it('answers malformed JSON 400, a non-JSON body 415, with {code, message}', async () => {
    const bad = await f.app.inject({ method: 'POST', url: '/v1/tenants', headers: { ...bearer(w.adminToken), 'content-type': 'application/json' }, payload: '{"name":' });
    assert.equal(bad.statusCode, 400);
    assert.deepEqual(Object.keys(bad.json<object>()).sort(), ['code', 'message']);
    const text = await f.app.inject({ method: 'POST', url: '/v1/tenants', headers: { ...bearer(w.adminToken), 'content-type': 'text/plain' }, payload: 'name=x' });
    assert.equal(text.statusCode, 415);
  });

  it('refuses credentials in the query string with 400, on every route, before anything else', async () => {
    for (const url of [
      `/healthz?token=${w.adminToken}`,
      '/v1/tenants?access_token=abc',
      `/v1/tenants?x=${w.adminToken}`,
      '/v1/whoami?API_KEY=1',
      `/v1/vaults/${w.a.vaultId}/backup-runs?limit=5&token=${w.adminToken}`,
    ]) {
      const response = await f.app.inject({ method: 'GET', url, headers: bearer(w.adminToken) });
      assert.equal(response.statusCode, 400, url);
      assert.equal(response.json<{ code: string }>().code, 'CREDENTIAL_IN_URL');
    }
  });

  it('reads only "Authorization: Bearer <token>"', async () => {
    for (const authorization of [`Basic ${Buffer.from('a:b').toString('base64')}`, `Bearer ${w.adminToken} ${w.adminToken}`, 'Bearer', w.adminToken, `Token ${w.adminToken}`]) {
      const response = await f.app.inject({ method: 'GET', url: '/v1/whoami', headers: { authorization } });
      assert.equal(response.statusCode, 401, authorization);
    }
    const cookie = await f.app.inject({ method: 'GET', url: '/v1/whoami', headers: { cookie: `token=${w.adminToken}` } });
    assert.equal(cookie.statusCode, 401);
    const lowercase = await f.app.inject({ method: 'GET', url: '/v1/whoami', headers: { authorization: `bearer ${w.adminToken}` } });
    assert.equal(lowercase.statusCode, 200, 'the scheme is case-insensitive (RFC 7235)');
  });
});

describe('logs never carry credentials', () => {
  it('redacts the Authorization header and drops query strings and secret-looking path segments', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const f = await startServiceFixture({ logger: createServiceLogger(sink, 'trace') });
    try {
      const w = await buildWorld(f);
      await f.app.inject({ method: 'GET', url: '/v1/whoami', headers: bearer(w.adminToken) });
      await f.app.inject({ method: 'GET', url: `/v1/tenants?token=${w.a.tenantAdminToken}` });
      await f.app.inject({ method: 'GET', url: `/v1/tokens/${w.a.agentToken}` });
      await f.app.inject({ method: 'POST', url: '/v1/registrations', payload: { code: w.registrationCode, hostname: 'h' } });
      const log = lines.join('');
      assert.match(log, /incoming request/, 'requests are logged');
      assert.match(log, /"url":"\/v1\/tenants\?…"/);
      for (const secret of [w.adminToken, w.a.tenantAdminToken, w.a.agentToken, w.registrationCode]) {
        assert.ok(!log.includes(secret.slice(8)), 'a secret reached the log');
      }
    } finally {
      await f.close();
    }
  });

  it('loggableUrl masks secrets in paths and drops the query', () => {
    assert.equal(loggableUrl('/v1/tenants?token=fry_adm_abc'), '/v1/tenants?…');
    assert.equal(loggableUrl('/v1/tokens/fry_agt_abc-_9'), '/v1/tokens/fry_***');
    assert.equal(loggableUrl('/healthz'), '/healthz');
  });
});
