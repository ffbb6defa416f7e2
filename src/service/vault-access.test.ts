import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { releaseAfterResponse } from './api/request-resources.js';
import { forgetVaultLock, mayRemoveLock, recordVaultLock, vaultLockOwner } from './resources/vault-locks.js';
import { bearer, startServiceFixture, type ServiceFixture } from './testing/service-fixture.js';
import { buildWorld, type World } from './testing/world.js';
import { resolveVaultForObjects } from './vault-access.js';

describe('resolveVaultForObjects', () => {
  let f: ServiceFixture;
  let w: World;
  let released = 0;
  beforeEach(async () => {
    f = await startServiceFixture();
    f.app.route({
      method: 'POST',
      url: '/v1/vaults/:vaultId/test-objects',
      // Wider than a real object route, so the function's own role check is what answers job and operator.
      config: { access: ['admin', 'tenant-admin', 'agent', 'job', 'operator'] },
      handler: async (request) => {
        const { vaultId } = request.params as { vaultId: string };
        const resolved = await resolveVaultForObjects(request, vaultId);
        await resolved.storage.save('probe', Buffer.from(resolved.access));
        releaseAfterResponse(request, async () => void released++);
        return { access: resolved.access, machineId: resolved.machineId ?? null, vaultId: resolved.vaultId, tenantId: resolved.tenantId };
      },
    });
    w = await buildWorld(f);
    released = 0;
  });
  afterEach(() => f.close());

  const probe = (token: string, vaultId = w.a.vaultId) => f.app.inject({ method: 'POST', url: `/v1/vaults/${vaultId}/test-objects`, headers: bearer(token) });

  it('gives admins and the tenant’s tenant-admins full access, the vault’s agent append-only access with its machine', async () => {
    assert.deepEqual((await probe(w.adminToken)).json(), { access: 'full', machineId: null, vaultId: w.a.vaultId, tenantId: w.a.tenantId });
    assert.deepEqual((await probe(w.a.tenantAdminToken)).json(), { access: 'full', machineId: null, vaultId: w.a.vaultId, tenantId: w.a.tenantId });
    assert.deepEqual((await probe(w.a.agentToken)).json(), { access: 'append-only', machineId: w.a.machineId, vaultId: w.a.vaultId, tenantId: w.a.tenantId });
    const saved = await readFile(join(f.dataDir, 'storage-accounts', w.a.storageAccountId, w.a.vaultId, 'probe'), 'utf8');
    assert.equal(saved, 'append-only', 'the storage is the vault’s container in its storage account');
  });

  it('answers 404 for other tenants and other vaults, 403 for job and operator tokens', async () => {
    assert.equal((await probe(w.b.tenantAdminToken)).statusCode, 404);
    assert.equal((await probe(w.b.agentToken)).statusCode, 404);
    assert.equal((await probe(w.a.agentToken, w.b.vaultId)).statusCode, 404);
    assert.equal((await probe(w.adminToken, '6f1e2a70-0000-4000-8000-000000000001')).statusCode, 404);
    assert.equal((await probe(w.jobToken)).statusCode, 403);
    assert.equal((await probe(w.operatorToken)).statusCode, 403);
  });

  it('releases per-request resources once the response is sent', async () => {
    await probe(w.adminToken);
    await probe(w.a.agentToken);
    assert.equal(released, 2);
  });
});

describe('vault locks: who saved which lock object', () => {
  let f: ServiceFixture;
  let w: World;
  beforeEach(async () => {
    f = await startServiceFixture();
    w = await buildWorld(f);
  });
  afterEach(() => f.close());

  it('records owners, lets an agent remove only its own machine’s locks, full access any', async () => {
    const key = `locks/${'ab'.repeat(32)}`;
    assert.equal(await vaultLockOwner(f.db, w.a.vaultId, key), undefined);
    await recordVaultLock(f.ctx, { vaultId: w.a.vaultId, objectKey: key, machineId: w.a.machineId });
    const owner = await vaultLockOwner(f.db, w.a.vaultId, key);
    assert.equal(owner?.machineId, w.a.machineId);
    assert.equal(mayRemoveLock({ access: 'append-only', machineId: w.a.machineId }, owner), true);
    assert.equal(mayRemoveLock({ access: 'append-only', machineId: 'another-machine' }, owner), false);
    assert.equal(mayRemoveLock({ access: 'append-only', machineId: w.a.machineId }, undefined), false, 'an unrecorded lock is nobody’s');
    assert.equal(mayRemoveLock({ access: 'full' }, owner), true);
    assert.equal(mayRemoveLock({ access: 'full' }, undefined), true);

    await recordVaultLock(f.ctx, { vaultId: w.a.vaultId, objectKey: key, machineId: null });
    const replaced = await vaultLockOwner(f.db, w.a.vaultId, key);
    assert.equal(replaced?.machineId, null);
    assert.equal(mayRemoveLock({ access: 'append-only', machineId: w.a.machineId }, replaced), false, 'a lock saved with full access is not the agent’s');

    await forgetVaultLock(f.db, w.a.vaultId, key);
    await forgetVaultLock(f.db, w.a.vaultId, key);
    assert.equal(await vaultLockOwner(f.db, w.a.vaultId, key), undefined);
  });
});
