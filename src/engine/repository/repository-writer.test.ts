import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStorage } from '../../storage/memory-storage.js';
import { INSECURE_TEST_KDF } from '../crypto/key-slot.js';
import { Repository, type RepositoryContext } from './repository.js';

const context: RepositoryContext = { clock: { now: () => Date.UTC(2026, 11, 6) }, hostname: 'test-host', username: 'tester' };

describe('RepositoryWriter', () => {
  it('starts its encoder workers only with the first blob it stores', async () => {
    const storage = new MemoryStorage();
    const repo = await Repository.init(storage, 'pw', context, { kdf: INSECURE_TEST_KDF });
    const blob = Buffer.from('a blob the repository already has');
    const first = repo.createWriter();
    const { id } = await first.save('data', blob);
    await first.flush();

    const writer = repo.createWriter({ workers: 2 });
    try {
      // A backup that changes nothing: every blob is known, so no worker thread is started.
      assert.deepEqual(await writer.save('data', blob), { id, added: false });
      await writer.flush();
      assert.equal(writer.workersStarted, false);
      const saved = await writer.save('data', Buffer.from('a new blob'));
      assert.equal(saved.added, true);
      assert.equal(writer.workersStarted, true);
      await writer.flush();
    } finally {
      await writer.close();
    }
    const again = await Repository.open(storage, 'pw', context);
    await again.loadIndex();
    assert.equal(again.index.packs().size, 2);
  });
});
