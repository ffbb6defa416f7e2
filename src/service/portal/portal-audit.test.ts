import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AuditRecord } from '../audit/audit-log.js';
import { listAuditRecords } from '../audit/audit-query.js';
import { principalForSecret, revokeToken } from '../auth/token-store.js';
import { PortalBrowser } from '../testing/portal-browser.js';
import { startServiceFixture, type ServiceFixture } from '../testing/service-fixture.js';
import { buildWorld, type World } from '../testing/world.js';
import { SESSION_ACTOR, THROTTLED_RECORD_INTERVAL_MS, UNKNOWN_ACTOR } from './portal-audit.js';
import { createSignInLink, SESSION_LIFETIME_MS } from './portal-sessions.js';

/**
 * The portal's audit records since `since` (ISO), in a fixed order: the tests' clock stands still while
 * they act, so records of one moment come in the order of their random ids.
 */
async function portalRecords(fixture: ServiceFixture, world: World, since: string): Promise<AuditRecord[]> {
  const admin = await principalForSecret(fixture.ctx, world.adminToken);
  const { records } = await listAuditRecords(fixture.ctx, admin, { since, limit: 1000 });
  return inOrder(records.filter((r) => r.action.startsWith('portal.')));
}

/** Sorted by what they say (for comparing lists whose order does not matter). */
function inOrder<T>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
}

/** The fields a test checks of a record. */
function summary(record: AuditRecord): Record<string, unknown> {
  return { actor: record.actor, tenantId: record.tenantId, action: record.action, target: record.target, outcome: record.outcome, detail: record.detail };
}

describe('portal audit records', () => {
  let fixture: ServiceFixture;
  let world: World;
  let tenantAdminId: string;
  /** Each test starts at a new second and reads the records from there on. */
  let since: string;
  before(async () => {
    // A throttle that steps in after two failed sign-ins from one address. Its window (an hour, on the
    // service's clock) outlasts the minutes the tests advance, so the address stays throttled throughout.
    fixture = await startServiceFixture({ authThrottle: { perAddress: { max: 2, windowMs: 3_600_000 }, perPrefix: { max: 1000, windowMs: 3_600_000 } } });
    world = await buildWorld(fixture);
    tenantAdminId = (await principalForSecret(fixture.ctx, world.a.tenantAdminToken)).tokenId;
  });
  after(() => fixture.close());
  const next = (): void => {
    fixture.clock.advance(THROTTLED_RECORD_INTERVAL_MS);
    since = new Date(fixture.clock.now()).toISOString();
  };

  it('records a sign-in with a token, the sign-out, with the token, its tenant and the address', async () => {
    next();
    const browser = new PortalBrowser(fixture, '192.0.2.10');
    assert.equal((await browser.signIn(world.a.tenantAdminToken)).statusCode, 303);
    await browser.request('GET', '/jobs');
    assert.equal((await browser.request('POST', '/sign-out', { _csrf: browser.csrf })).statusCode, 303);
    // A second sign-out of the same (gone) session records nothing.
    assert.deepEqual(inOrder((await portalRecords(fixture, world, since)).map(summary)), inOrder([
      { actor: `tenant-admin:${tenantAdminId}`, tenantId: world.a.tenantId, action: 'portal.sign-in', target: { type: 'token', id: tenantAdminId }, outcome: 'ok', detail: { method: 'token', role: 'tenant-admin', remoteAddress: '192.0.2.10' } },
      { actor: `tenant-admin:${tenantAdminId}`, tenantId: world.a.tenantId, action: 'portal.sign-out', target: { type: 'token', id: tenantAdminId }, outcome: 'ok', detail: { role: 'tenant-admin', remoteAddress: '192.0.2.10' } },
    ]));
  });

  it('records refused sign-ins: an unknown token, a revoked one, an agent\'s, and once a minute those the throttle answers', async () => {
    next();
    const revoked = await fixture.token({ role: 'tenant-admin', tenantId: world.a.tenantId });
    await revokeToken(fixture.ctx, revoked.id);
    const agentId = (await principalForSecret(fixture.ctx, world.a.agentToken)).tokenId;
    assert.equal((await new PortalBrowser(fixture, '192.0.2.21').signIn('fry_ten_not-a-token')).statusCode, 401);
    assert.equal((await new PortalBrowser(fixture, '192.0.2.22').signIn(revoked.token)).statusCode, 401);
    assert.equal((await new PortalBrowser(fixture, '192.0.2.23').signIn(world.a.agentToken)).statusCode, 401);
    // From one address: two refusals, then the throttle answers 429 (recorded once in its minute), then again a minute later.
    const guesser = new PortalBrowser(fixture, '192.0.2.30');
    for (const expected of [401, 401, 429, 429, 429]) assert.equal((await guesser.signIn(`fry_ten_guess${expected}`)).statusCode, expected);
    fixture.clock.advance(THROTTLED_RECORD_INTERVAL_MS);
    assert.equal((await guesser.signIn('fry_ten_guess-later')).statusCode, 429);
    const records = (await portalRecords(fixture, world, since)).map(summary);
    const refusal = (address: string, reason: string, token?: { id: string; role: string; tenantId: string }): Record<string, unknown> => ({
      actor: token === undefined ? UNKNOWN_ACTOR : `${token.role}:${token.id}`,
      tenantId: token?.tenantId ?? null,
      action: 'portal.sign-in',
      target: { type: 'token', id: token?.id ?? null },
      outcome: 'refused',
      detail: { method: 'token', reason, remoteAddress: address },
    });
    const withoutError = records.map((r) => {
      const { error, ...detail } = r['detail'] as Record<string, unknown>;
      assert.equal(typeof error, 'string');
      return { ...r, detail };
    });
    assert.deepEqual(inOrder(withoutError), inOrder([
      refusal('192.0.2.21', 'UNAUTHENTICATED'),
      refusal('192.0.2.22', 'TOKEN_REVOKED', { id: revoked.id, role: 'tenant-admin', tenantId: world.a.tenantId }),
      refusal('192.0.2.23', 'PORTAL_ROLE', { id: agentId, role: 'agent', tenantId: world.a.tenantId }),
      refusal('192.0.2.30', 'UNAUTHENTICATED'),
      refusal('192.0.2.30', 'UNAUTHENTICATED'),
      refusal('192.0.2.30', 'THROTTLED'),
      refusal('192.0.2.30', 'THROTTLED'),
    ]));
    const revokedRecord = records.find((r) => (r['detail'] as Record<string, unknown>)['reason'] === 'TOKEN_REVOKED');
    assert.match(String((revokedRecord?.['detail'] as Record<string, unknown>)['error']), /revoked/);
    for (const secret of ['fry_ten_not-a-token', revoked.token, world.a.agentToken, 'fry_ten_guess401']) {
      assert.ok(records.every((r) => !JSON.stringify(r).includes(secret)), 'no secret in a record');
    }
  });

  it('records a sign-in by one-time link, and its reuse refused with the link\'s token', async () => {
    next();
    const operator = await principalForSecret(fixture.ctx, world.operatorToken);
    const link = await createSignInLink(fixture.ctx, operator);
    const browser = new PortalBrowser(fixture, '198.51.100.7');
    await browser.request('GET', link.path);
    assert.equal((await browser.request('POST', link.path, { _csrf: browser.csrf })).statusCode, 303);
    const again = new PortalBrowser(fixture, '198.51.100.8');
    await again.request('GET', link.path);
    assert.equal((await again.request('POST', link.path, { _csrf: again.csrf })).statusCode, 401);
    const records = (await portalRecords(fixture, world, since)).map(summary).sort((a, b) => String(a['outcome']).localeCompare(String(b['outcome'])));
    assert.deepEqual(records[0], { actor: `operator:${operator.tokenId}`, tenantId: null, action: 'portal.sign-in', target: { type: 'token', id: operator.tokenId }, outcome: 'ok', detail: { method: 'link', role: 'operator', remoteAddress: '198.51.100.7' } });
    assert.deepEqual({ ...records[1], detail: { ...(records[1]!['detail'] as object), error: '' } }, {
      actor: `operator:${operator.tokenId}`, tenantId: null, action: 'portal.sign-in', target: { type: 'token', id: operator.tokenId }, outcome: 'refused',
      detail: { method: 'link', reason: 'UNAUTHENTICATED', error: '', remoteAddress: '198.51.100.8' },
    });
    assert.equal(records.length, 2);
  });

  it('records a session found ended, once: by its expiry, and by its token\'s revocation', async () => {
    next();
    const expiring = new PortalBrowser(fixture, '203.0.113.1');
    await expiring.signIn(world.a.tenantAdminToken);
    fixture.clock.advance(SESSION_LIFETIME_MS);
    const expired = await Promise.all([expiring.request('GET', '/jobs'), expiring.request('GET', '/vaults')]);
    assert.deepEqual(expired.map((r) => r.statusCode), [303, 303]);

    const token = await fixture.token({ role: 'tenant-admin', tenantId: world.a.tenantId });
    const revoking = new PortalBrowser(fixture, '203.0.113.2');
    await revoking.signIn(token.token);
    await revokeToken(fixture.ctx, token.id);
    assert.equal((await revoking.request('GET', '/jobs')).statusCode, 303);
    assert.equal((await revoking.request('GET', '/jobs')).statusCode, 303);

    const ended = (await portalRecords(fixture, world, since)).filter((r) => r.action === 'portal.session-end').map(summary);
    assert.deepEqual(inOrder(ended), inOrder([
      { actor: SESSION_ACTOR, tenantId: world.a.tenantId, action: 'portal.session-end', target: { type: 'token', id: tenantAdminId }, outcome: 'ok', detail: { reason: 'SESSION_EXPIRED', role: 'tenant-admin', remoteAddress: '203.0.113.1' } },
      { actor: SESSION_ACTOR, tenantId: world.a.tenantId, action: 'portal.session-end', target: { type: 'token', id: token.id }, outcome: 'ok', detail: { reason: 'TOKEN_REVOKED', role: 'tenant-admin', remoteAddress: '203.0.113.2' } },
    ]));
  });

  it('shows the records on the admin audit page', async () => {
    next();
    const admin = new PortalBrowser(fixture, '192.0.2.99');
    await admin.signIn(world.adminToken);
    const page = await admin.request('GET', '/admin/audit');
    assert.equal(page.statusCode, 200);
    // The admin's own sign-in (no tenant), and a tenant-admin's session ended (with the tenant's name).
    assert.match(page.body, /<td><span class="muted">none<\/span><\/td><td>portal\.sign-in<\/td>.*?<span class="muted">remoteAddress:<\/span> 192\.0\.2\.99<\/span>/);
    assert.match(page.body, /<td>tenant-a<\/td><td>portal\.session-end<\/td>.*?<span class="muted">reason:<\/span> TOKEN_REVOKED/);
  });
});
