import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { ForbiddenError } from '../../core/errors.js';
import { TEST_TOKENS, createVaultObjectApp } from '../../service/vault-objects/testing/vault-object-app.js';
import { listKeys, runStorageConformance, seededBytes } from '../testing/conformance.js';
import { HttpStorage } from './http-storage.js';

// HttpStorage against the vault object routes on a real socket (127.0.0.1, port 0), the vault in an
// FsStorage in a temp dir, with a tenant-admin's full access. The integrator adds the same run against a
// `ferry serve` process.
runStorageConformance('HttpStorage (vault object routes over FsStorage)', async () => {
  const server = await createVaultObjectApp();
  const url = await server.listen();
  return { storage: new HttpStorage({ url, token: TEST_TOKENS.admin }), cleanup: () => server.close() };
});

describe('HttpStorage on the vault object routes', () => {
  it('lists 5000 objects streamed in many batches, each once', async () => {
    const server = await createVaultObjectApp();
    try {
      const keys = Array.from({ length: 5000 }, (_, i) => `data/${String(i % 256).padStart(3, '0')}/object-${String(i).padStart(50, '0')}`);
      await Promise.all(keys.map((key, i) => server.storage.save(key, seededBytes(i % 7))));
      const storage = new HttpStorage({ url: await server.listen(), token: TEST_TOKENS.agentA });
      const sizes = new Map<string, number>();
      await storage.list('data/', (info) => {
        assert.ok(!sizes.has(info.key), `${info.key} listed twice`);
        sizes.set(info.key, info.size);
      });
      assert.deepEqual(new Map([...sizes].sort()), new Map(keys.map((key, i) => [key, i % 7] as const).sort()));
      await storage.close();
    } finally {
      await server.close();
    }
  });

  it('as an agent: saves are idempotent, removing a snapshot is a ForbiddenError, its own lock goes', async () => {
    const server = await createVaultObjectApp();
    try {
      const storage = new HttpStorage({ url: await server.listen(), token: TEST_TOKENS.agentA });
      const bytes = seededBytes(1000);
      const id = createHash('sha256').update(bytes).digest('hex');
      for (const key of [`snapshots/${id}`, `locks/${id}`]) {
        await storage.save(key, bytes, { length: bytes.length });
        await storage.save(key, bytes, { length: bytes.length });
      }
      await assert.rejects(storage.remove(`snapshots/${id}`), (err) => err instanceof ForbiddenError && /tenant-admin/.test(err.message));
      await storage.remove(`locks/${id}`);
      await storage.remove(`locks/${id}`);
      assert.deepEqual(await listKeys(storage, ''), [`snapshots/${id}`]);
      await storage.close();
    } finally {
      await server.close();
    }
  });
});
