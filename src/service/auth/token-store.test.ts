import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { AuthenticationError, UserError } from '../../core/errors.js';
import { startServiceFixture, type ServiceFixture } from '../testing/service-fixture.js';
import { DEFAULT_TOKEN_LIFETIME_MS, ROLES } from './roles.js';
import { hashSecret, newSecret, secretKind } from './secret-format.js';
import { anyAdminTokenExists, issueToken, listTokens, principalForSecret, revokeToken } from './token-store.js';

describe('tokens', () => {
  let f: ServiceFixture;
  before(async () => (f = await startServiceFixture()));
  after(() => f.close());

  it('have a recognizable prefix per role and 256 random bits in base64url', () => {
    const prefixes = { admin: 'fry_adm_', 'tenant-admin': 'fry_ten_', agent: 'fry_agt_', job: 'fry_job_', operator: 'fry_opr_', registration: 'fry_reg_' } as const;
    for (const [kind, prefix] of Object.entries(prefixes) as [keyof typeof prefixes, string][]) {
      const secret = newSecret(kind, f.ctx.random);
      assert.ok(secret.startsWith(prefix), secret);
      const random = secret.slice(prefix.length);
      assert.match(random, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(Buffer.from(random, 'base64url').length, 32);
      assert.equal(secretKind(secret), kind);
    }
    assert.equal(secretKind('fry_xyz_' + 'a'.repeat(43)), undefined);
    assert.equal(secretKind('fry_adm_short'), undefined);
    assert.equal(secretKind('Bearer something'), undefined);
  });

  it('are stored only as their SHA-256: no column holds the secret', async () => {
    const issued = await issueToken(f.ctx, { role: 'operator' });
    const row = await f.db.selectFrom('tokens').selectAll().where('id', '=', issued.id).executeTakeFirstOrThrow();
    assert.equal(row.token_hash, createHash('sha256').update(issued.token).digest('hex'));
    assert.equal(row.token_hash, hashSecret(issued.token));
    assert.ok(!JSON.stringify(row).includes(issued.token.slice(8)), 'the secret appears nowhere in the row');
    const listed = await listTokens(f.ctx);
    assert.ok(!JSON.stringify(listed).includes(issued.token.slice(8)), 'listings never carry secrets');
  });

  it('authenticate as their role and scope until they expire (injected clock)', async () => {
    await f.db.insertInto('tenants').values({ id: '6f1e2a70-0000-4000-8000-000000000001', name: 'clocked', created_at: '2026-01-01T00:00:00.000Z' }).execute();
    const issued = await issueToken(f.ctx, { role: 'tenant-admin', tenantId: '6f1e2a70-0000-4000-8000-000000000001', lifetimeMs: 60_000 });
    const principal = await principalForSecret(f.ctx, issued.token);
    assert.deepEqual(principal, { tokenId: issued.id, role: 'tenant-admin', tenantId: '6f1e2a70-0000-4000-8000-000000000001', expiresAt: issued.expiresAt });
    f.clock.advance(59_999);
    await principalForSecret(f.ctx, issued.token);
    f.clock.advance(1);
    await assert.rejects(principalForSecret(f.ctx, issued.token), (err) => err instanceof AuthenticationError && /expired/.test(err.message));
  });

  it('default to the role’s lifetime and refuse lifetimes outside (0, 5 years]', async () => {
    for (const role of ROLES) {
      const issued = await issueToken(f.ctx, { role });
      assert.equal(Date.parse(issued.expiresAt) - Date.parse(issued.createdAt), DEFAULT_TOKEN_LIFETIME_MS[role]);
    }
    await assert.rejects(issueToken(f.ctx, { role: 'admin', lifetimeMs: 0 }), UserError);
    await assert.rejects(issueToken(f.ctx, { role: 'admin', lifetimeMs: 6 * 365 * 86_400_000 }), UserError);
  });

  it('stop authenticating once revoked; revoking twice keeps the first time', async () => {
    const issued = await issueToken(f.ctx, { role: 'admin' });
    await principalForSecret(f.ctx, issued.token);
    const first = await revokeToken(f.ctx, issued.id);
    assert.ok(first.revokedAt !== null);
    await assert.rejects(principalForSecret(f.ctx, issued.token), (err) => err instanceof AuthenticationError && /revoked/.test(err.message));
    f.clock.advance(5000);
    const second = await revokeToken(f.ctx, issued.id);
    assert.equal(second.revokedAt, first.revokedAt);
  });

  it('refuse unknown, malformed and registration-code secrets, and a prefix that lies about the role', async () => {
    const issued = await issueToken(f.ctx, { role: 'operator' });
    for (const secret of [newSecret('admin', f.ctx.random), 'fry_adm_x', 'not a token', '', newSecret('registration', f.ctx.random), issued.token.replace('fry_opr_', 'fry_adm_')]) {
      await assert.rejects(principalForSecret(f.ctx, secret), AuthenticationError, secret);
    }
  });

  it('tell whether an admin token was ever issued (the first start writes one)', async () => {
    const fresh = await startServiceFixture();
    try {
      assert.equal(await anyAdminTokenExists(fresh.db), false);
      await issueToken(fresh.ctx, { role: 'operator' });
      assert.equal(await anyAdminTokenExists(fresh.db), false);
      const admin = await issueToken(fresh.ctx, { role: 'admin' });
      await revokeToken(fresh.ctx, admin.id);
      assert.equal(await anyAdminTokenExists(fresh.db), true);
    } finally {
      await fresh.close();
    }
  });
});
