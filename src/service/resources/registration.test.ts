import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { principalForSecret } from '../auth/token-store.js';
import { bearer, startServiceFixture, type ServiceFixture } from '../testing/service-fixture.js';
import { buildWorld, type World } from '../testing/world.js';
import { openVaultStorage } from './vault-storage.js';

const HOUR = 3_600_000;

describe('registration: one-time codes that expire after 48 hours', () => {
  let f: ServiceFixture;
  let w: World;
  beforeEach(async () => {
    f = await startServiceFixture();
    w = await buildWorld(f);
  });
  afterEach(() => f.close());

  const newCode = async (): Promise<{ registrationCode: string; expiresAt: string }> => {
    const response = await f.app.inject({ method: 'POST', url: `/v1/vaults/${w.a.vaultId}/credentials`, headers: bearer(w.a.tenantAdminToken) });
    assert.equal(response.statusCode, 201, response.body);
    return response.json();
  };
  const register = (code: string, hostname = 'box') => f.app.inject({ method: 'POST', url: '/v1/registrations', payload: { code, hostname } });

  it('exchanges a code for an agent token bound to a new machine and the vault', async () => {
    const { registrationCode, expiresAt } = await newCode();
    assert.match(registrationCode, /^fry_reg_[A-Za-z0-9_-]{43}$/);
    assert.equal(Date.parse(expiresAt) - f.clock.now(), 48 * HOUR);
    const response = await register(registrationCode, 'fileserver.example');
    assert.equal(response.statusCode, 201, response.body);
    const body = response.json<{
      token: string;
      machine: { id: string; hostname: string };
      tenant: { id: string; name: string };
      vault: { id: string; name: string; repositoryInitialized: boolean };
    }>();
    assert.match(body.token, /^fry_agt_/);
    assert.equal(body.machine.hostname, 'fileserver.example');
    assert.deepEqual(body.tenant, { id: w.a.tenantId, name: 'tenant-a' });
    assert.deepEqual(body.vault, { id: w.a.vaultId, name: 'tenant-a-vault', repositoryInitialized: false });
    const principal = await principalForSecret(f.ctx, body.token);
    assert.equal(principal.role, 'agent');
    assert.equal(principal.vaultId, w.a.vaultId);
    assert.equal(principal.machineId, body.machine.id);
    assert.equal(principal.tenantId, w.a.tenantId);
    const machines = await f.app.inject({ method: 'GET', url: `/v1/vaults/${w.a.vaultId}/machines`, headers: bearer(w.a.tenantAdminToken) });
    assert.ok(machines.json<{ machines: { id: string }[] }>().machines.some((m) => m.id === body.machine.id));
    const stored = await f.db.selectFrom('registration_codes').selectAll().execute();
    assert.ok(!JSON.stringify(stored).includes(registrationCode.slice(8)), 'only the hash of a code is stored');
  });

  it('works once: a second use is REGISTRATION_CODE_USED and creates no machine', async () => {
    const { registrationCode } = await newCode();
    assert.equal((await register(registrationCode)).statusCode, 201);
    const machinesBefore = await f.db.selectFrom('machines').select('id').execute();
    const again = await register(registrationCode, 'other');
    assert.equal(again.statusCode, 401);
    assert.equal(again.json<{ code: string }>().code, 'REGISTRATION_CODE_USED');
    assert.match(again.json<{ message: string }>().message, /already used.*ferry vault credentials/);
    assert.equal((await f.db.selectFrom('machines').select('id').execute()).length, machinesBefore.length);
  });

  it('two registrations racing with one code: exactly one wins', async () => {
    const { registrationCode } = await newCode();
    const results = await Promise.all([register(registrationCode, 'one'), register(registrationCode, 'two'), register(registrationCode, 'three')]);
    assert.deepEqual(results.map((r) => r.statusCode).sort(), [201, 401, 401]);
  });

  it('expires 48 hours after it was made (injected clock)', async () => {
    const { registrationCode: early } = await newCode();
    const { registrationCode: late } = await newCode();
    f.clock.advance(48 * HOUR - 1);
    assert.equal((await register(early)).statusCode, 201, 'valid until the last millisecond');
    f.clock.advance(1);
    const expired = await register(late);
    assert.equal(expired.statusCode, 401);
    assert.equal(expired.json<{ code: string }>().code, 'REGISTRATION_CODE_EXPIRED');
  });

  it('refuses unknown and malformed codes, and tokens posing as codes', async () => {
    for (const code of ['fry_reg_' + 'A'.repeat(43), 'nonsense', w.a.agentToken]) {
      const response = await register(code);
      assert.equal(response.statusCode, 401, code);
      assert.equal(response.json<{ code: string }>().code, 'REGISTRATION_CODE_INVALID');
    }
  });

  it('says whether the vault’s repository is initialized (its config object exists)', async () => {
    const vault = { storageAccountId: w.a.storageAccountId, container: w.a.vaultId };
    const storage = await openVaultStorage(f.ctx, vault);
    await storage.save('config', Buffer.from('sealed config'));
    await storage.close();
    const { registrationCode } = await newCode();
    const response = await register(registrationCode);
    assert.equal(response.json<{ vault: { repositoryInitialized: boolean } }>().vault.repositoryInitialized, true);
  });
});
