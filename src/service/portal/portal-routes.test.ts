import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { driveJob, prepareDisks } from '../testing/import-job-fixtures.js';
import { PortalBrowser as Browser } from '../testing/portal-browser.js';
import { startServiceFixture, type ServiceFixture } from '../testing/service-fixture.js';
import { buildWorld, type World } from '../testing/world.js';
import { revokeToken } from '../auth/token-store.js';
import { principalForSecret } from '../auth/token-store.js';
import { createSignInLink, SESSION_LIFETIME_MS } from './portal-sessions.js';
import { createVault, getVaultDetails, listVaultSeeds } from '../resources/vaults.js';
import { createImportJob, getImportJob } from '../resources/import-jobs.js';

describe('portal routes', () => {
  let fixture: ServiceFixture;
  let world: World;
  before(async () => {
    fixture = await startServiceFixture();
    world = await buildWorld(fixture);
  });
  after(() => fixture.close());

  it('signs in with a token into an HttpOnly, SameSite=Strict, expiring session cookie', async () => {
    const browser = new Browser(fixture);
    const response = await browser.signIn(world.a.tenantAdminToken);
    assert.equal(response.statusCode, 303);
    assert.equal(response.headers.location, '/');
    const set = ([] as string[]).concat(response.headers['set-cookie'] ?? []).find((c) => c.startsWith('ferry-session='))!;
    assert.match(set, /; Path=\/; HttpOnly; SameSite=Strict; Max-Age=28800$/);
    assert.equal(SESSION_LIFETIME_MS, 28_800_000);
    assert.ok(!set.includes(world.a.tenantAdminToken), 'the cookie is not the token');
    const jobs = await browser.request('GET', '/jobs');
    assert.equal(jobs.statusCode, 200);
    assert.match(jobs.body, /<html lang="en">/);
    assert.match(jobs.headers['content-security-policy'] as string, /script-src 'self'/);
  });

  it('refuses a sign-in form without its cookie, an agent token, and a wrong token (counted by the throttle)', async () => {
    const browser = new Browser(fixture);
    await browser.request('GET', '/sign-in');
    browser.cookies.clear();
    assert.equal((await browser.request('POST', '/sign-in', { _csrf: browser.csrf, token: world.a.tenantAdminToken })).statusCode, 403);
    const agent = await new Browser(fixture).signIn(world.a.agentToken);
    assert.equal(agent.statusCode, 401);
    assert.match(agent.body, /agent token does not sign in to the portal/);
    assert.equal((await new Browser(fixture).signIn('fry_ten_wrong')).statusCode, 401);
  });

  it('ends the session when its token is revoked, when it expires, and at sign-out', async () => {
    const tenantAdmin = await fixture.token({ role: 'tenant-admin', tenantId: world.a.tenantId });
    const browser = new Browser(fixture);
    await browser.signIn(tenantAdmin.token);
    assert.equal((await browser.request('GET', '/jobs')).statusCode, 200);
    await revokeToken(fixture.ctx, tenantAdmin.id);
    const after = await browser.request('GET', '/jobs');
    assert.equal(after.statusCode, 303);
    assert.equal(after.headers.location, '/sign-in');

    const expiring = new Browser(fixture);
    await expiring.signIn(world.a.tenantAdminToken);
    fixture.clock.advance(SESSION_LIFETIME_MS);
    assert.equal((await expiring.request('GET', '/jobs')).statusCode, 303);

    const leaving = new Browser(fixture);
    await leaving.signIn(world.a.tenantAdminToken);
    const page = await leaving.request('GET', '/jobs');
    const session = leaving.cookies.get('ferry-session')!;
    assert.equal((await leaving.request('POST', '/sign-out', { _csrf: leaving.csrf })).headers.location, '/sign-in');
    leaving.cookies.set('ferry-session', session);
    assert.equal((await leaving.request('GET', '/jobs')).statusCode, 303, `the session is gone on the service too (${page.statusCode})`);
  });

  it('refuses every form without the session\'s CSRF token', async () => {
    const browser = new Browser(fixture);
    await browser.signIn(world.a.tenantAdminToken);
    await browser.request('GET', `/jobs/${world.jobId}`);
    for (const form of [{}, { _csrf: 'not-the-token' }] as Record<string, string>[]) {
      const response = await browser.request('POST', `/jobs/${world.jobId}/cancel`, form);
      assert.equal(response.statusCode, 403);
      assert.match(response.body, /security token/);
    }
    const ok = await browser.request('POST', `/jobs/${world.jobId}/cancel`, { _csrf: browser.csrf });
    assert.equal(ok.statusCode, 303);
  });

  it('shows the service\'s refusals of the shipping form next to their fields', async () => {
    const f = await startServiceFixture();
    try {
      const w = await buildWorld(f);
      await prepareDisks(f, w.jobId, 1);
      const browser = new Browser(f);
      await browser.signIn(w.a.tenantAdminToken);
      await browser.request('GET', `/jobs/${w.jobId}`);
      const missing = await browser.request('POST', `/jobs/${w.jobId}/shipping`, { _csrf: browser.csrf, carrier: ' ', trackingNumber: 'JD 1', returnAddress: 'Acme' });
      assert.equal(missing.statusCode, 400);
      assert.match(missing.body, /<p id="carrier-error" class="field-error">enter the carrier<\/p>/);
      assert.match(missing.body, /id="carrier" name="carrier" value=" " required aria-describedby="carrier-hint carrier-error" aria-invalid="true"/);
      // Another job (of tenant B) holds the tracking number: refused next to the field, and the values stay.
      // (The address has a browser's CRLF line breaks: taken as line breaks, not refused as control characters.)
      const admin = await principalForSecret(f.ctx, w.adminToken);
      const vault = await createVault(f.ctx, admin, w.b.tenantId, { name: 'second', storageAccountId: w.b.storageAccountId });
      const holder = await createImportJob(f.ctx, admin, vault.id, { name: 'holder', storageAccountId: w.b.storageAccountId, container: 'holder' });
      await prepareDisks(f, holder.job.id, 1);
      await driveJob(f, holder.job.id, 'Shipping', 'JD-0146');
      const taken = await browser.request('POST', `/jobs/${w.jobId}/shipping`, { _csrf: browser.csrf, carrier: 'DHL', trackingNumber: 'jd 0146', returnAddress: 'Acme IT\r\n1 Main Street' });
      assert.equal(taken.statusCode, 409, taken.body);
      assert.match(taken.body, /<p id="trackingNumber-error" class="field-error">tracking number &quot;jd 0146&quot; is already used by another import job/);
      assert.match(taken.body, /id="carrier" name="carrier" value="DHL"/);
      // Past the tracking deadline: refused for the whole form.
      f.clock.advance(f.ctx.importJobs.trackingDeadlineMs + 1000);
      await browser.signIn(w.a.tenantAdminToken);
      await browser.request('GET', `/jobs/${w.jobId}`);
      const late = await browser.request('POST', `/jobs/${w.jobId}/shipping`, { _csrf: browser.csrf, carrier: 'DHL', trackingNumber: 'JD 9', returnAddress: 'Acme' });
      assert.equal(late.statusCode, 409);
      assert.match(late.body, /<div class="panel problem" role="alert" id="shipping-problem"><p><strong>Not saved:<\/strong> the tracking deadline of this job passed/);
      assert.equal((await getImportJob(f.ctx, admin, w.jobId)).carrier, null);
    } finally {
      await f.close();
    }
  });

  it('opens one session per sign-in link, once', async () => {
    const link = await createSignInLink(fixture.ctx, await principalForSecret(fixture.ctx, world.operatorToken));
    const browser = new Browser(fixture);
    await browser.request('GET', link.path);
    const used = await browser.request('POST', link.path, { _csrf: browser.csrf });
    assert.equal(used.statusCode, 303);
    assert.equal((await browser.request('GET', '/')).headers.location, '/datacenter');
    const again = new Browser(fixture);
    await again.request('GET', link.path);
    assert.equal((await again.request('POST', link.path, { _csrf: again.csrf })).statusCode, 401);
  });

  it('lists the vaults with their pending seeds, read for all of a tenant\'s vaults at once', async () => {
    const admin = await principalForSecret(fixture.ctx, world.adminToken);
    // The world's job of tenant A's vault was cancelled by an earlier test: a second vault gets a new one.
    const seeded = await createVault(fixture.ctx, admin, world.a.tenantId, { name: 'tenant-a-seeded', storageAccountId: world.a.storageAccountId });
    await createImportJob(fixture.ctx, admin, seeded.id, { name: 'second-seed', storageAccountId: world.a.storageAccountId, container: 'second-seed' });
    const seeds = await listVaultSeeds(fixture.ctx, admin, world.a.tenantId);
    assert.deepEqual([...seeds.keys()], [seeded.id]);
    assert.deepEqual(seeds.get(seeded.id), (await getVaultDetails(fixture.ctx, admin, seeded.id)).seed);
    assert.equal(seeds.get(seeded.id)?.state, 'Creating');
    // Tenant B's only job was cancelled: no seed pending; and tenant A's tenant-admin does not see tenant B.
    assert.equal((await listVaultSeeds(fixture.ctx, admin, world.b.tenantId)).size, 0);
    const tenantAdmin = await principalForSecret(fixture.ctx, world.a.tenantAdminToken);
    await assert.rejects(listVaultSeeds(fixture.ctx, tenantAdmin, world.b.tenantId), { code: 'NOT_FOUND' });

    const browser = new Browser(fixture);
    await browser.signIn(world.a.tenantAdminToken);
    const page = await browser.request('GET', '/vaults');
    assert.equal(page.statusCode, 200);
    const rowOf = (name: string): string => new RegExp(`<tr><td><a href="/vaults/[^"]+">${name}</a>.*?</tr>`).exec(page.body)?.[0] ?? '';
    assert.match(rowOf('tenant-a-seeded'), /second-seed: .*Creating/);
    assert.match(rowOf('tenant-a-vault'), /none pending/);
  });
});
