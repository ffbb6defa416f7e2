import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type { LightMyRequestResponse } from 'fastify';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeCa, makeServerCertificate, type TestCertificate } from '../testing/test-certificates.js';
import { injectAs, startServiceFixture, type ServiceFixture } from '../testing/service-fixture.js';
import { buildWorld, type World } from '../testing/world.js';
import { ServiceCertificate } from '../tls/service-certificate.js';
import { HSTS_MAX_AGE_SECONDS } from './security-headers.js';

function assertSecurityHeaders(response: LightMyRequestResponse, what: string, hsts: boolean): void {
  const h = response.headers;
  assert.equal(h['x-content-type-options'], 'nosniff', what);
  assert.equal(h['x-frame-options'], 'DENY', what);
  assert.equal(h['content-security-policy'], "default-src 'none'; frame-ancestors 'none'", what);
  assert.equal(h['referrer-policy'], 'no-referrer', what);
  assert.equal(h['cross-origin-resource-policy'], 'same-origin', what);
  assert.equal(h['strict-transport-security'], hsts ? `max-age=${HSTS_MAX_AGE_SECONDS}` : undefined, what);
}

describe('security headers on every answer', () => {
  let dir: string;
  let ca: TestCertificate;
  let plain: ServiceFixture;
  let tls: ServiceFixture;
  let plainWorld: World;
  let tlsWorld: World;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-headers-'));
    ca = await makeCa(dir, 'ca');
    const server = await makeServerCertificate(dir, 'server', ca);
    plain = await startServiceFixture();
    tls = await startServiceFixture({ tls: await ServiceCertificate.load({ certFile: server.certFile, keyFile: server.keyFile, caFile: ca.certFile }) });
    for (const fixture of [plain, tls]) {
      fixture.app.route({
        method: 'GET',
        url: '/test/cached',
        config: { access: 'public' },
        handler: async (_request, reply) => reply.header('cache-control', 'max-age=60').send({ ok: true }),
      });
    }
    plainWorld = await buildWorld(plain);
    tlsWorld = await buildWorld(tls);
  });
  after(async () => {
    await plain?.close();
    await tls?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('on a success, a 400, a 401, a 403, a 404 and an unknown route; HSTS only with TLS', async () => {
    for (const [fixture, world, hsts] of [[plain, plainWorld, false], [tls, tlsWorld, true]] as const) {
      const cases: [string, () => Promise<LightMyRequestResponse>, number][] = [
        ['healthz', () => injectAs(fixture, undefined, 'GET', '/healthz'), 200],
        ['tenants as admin', () => injectAs(fixture, world.adminToken, 'GET', '/v1/tenants'), 200],
        ['invalid body', () => injectAs(fixture, world.adminToken, 'POST', '/v1/tenants', { name: '' }), 400],
        ['no token', () => injectAs(fixture, undefined, 'GET', '/v1/tenants'), 401],
        ['wrong role', () => injectAs(fixture, world.a.agentToken, 'GET', '/v1/tenants'), 403],
        ['another tenant', () => injectAs(fixture, world.b.tenantAdminToken, 'GET', `/v1/vaults/${world.a.vaultId}`), 404],
        ['no route', () => injectAs(fixture, undefined, 'GET', '/no/such/route'), 404],
        ['missing object', () => injectAs(fixture, world.a.agentToken, 'GET', `/v1/vaults/${world.a.vaultId}/objects/config`), 404],
      ];
      for (const [what, send, status] of cases) {
        const response = await send();
        assert.equal(response.statusCode, status, `${what}: ${response.body}`);
        assertSecurityHeaders(response, `${what} (hsts ${hsts})`, hsts);
        assert.equal(response.headers['cache-control'], 'no-store', what);
      }
      const cached = await injectAs(fixture, undefined, 'GET', '/test/cached');
      assertSecurityHeaders(cached, 'a route with its own Cache-Control', hsts);
      assert.equal(cached.headers['cache-control'], 'max-age=60', 'a route that chose its Cache-Control keeps it');
    }
  });

  it('vault credentials carry the fingerprint the service pins: its CA with TLS, null over plain HTTP', async () => {
    const pinned = await injectAs(tls, tlsWorld.adminToken, 'POST', `/v1/vaults/${tlsWorld.a.vaultId}/credentials`);
    assert.equal(pinned.statusCode, 201, pinned.body);
    assert.equal(pinned.json<{ caFingerprint: string }>().caFingerprint, ca.fingerprint);
    const unpinned = await injectAs(plain, plainWorld.adminToken, 'POST', `/v1/vaults/${plainWorld.a.vaultId}/credentials`);
    assert.equal(unpinned.statusCode, 201, unpinned.body);
    assert.equal(unpinned.json<{ caFingerprint: null }>().caFingerprint, null);
  });
});
