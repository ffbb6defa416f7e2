import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Id } from '../../core/ids.js';
import { MemoryStorage } from '../../storage/memory-storage.js';
import { INSECURE_TEST_KDF } from '../crypto/key-slot.js';
import { seededBytes } from '../testing/arbitraries.js';
import { Repository, type RepositoryContext } from './repository.js';

const MiB = 1024 * 1024;
const context: RepositoryContext = { clock: { now: () => Date.UTC(2026, 11, 6) }, hostname: 'test-host', username: 'tester' };

describe('RepositoryWriter', () => {
  it('encodes the first few MiB itself and starts its encoder workers only beyond them', async () => {
    const storage = new MemoryStorage();
    const repo = await Repository.init(storage, 'pw', context, { kdf: INSECURE_TEST_KDF });
    const known = Buffer.from('a blob the repository already has');
    const first = repo.createWriter();
    const { id } = await first.save('data', known);
    await first.flush();

    const writer = repo.createWriter({ workers: 2 });
    const stored = [Buffer.from('a new tree of a directory that changed'), seededBytes(1, 3 * MiB), seededBytes(2, 2 * MiB), seededBytes(3, 1000)];
    const ids: Id[] = [];
    try {
      // A backup that changes nothing: every blob is known, so no worker thread is started.
      assert.deepEqual(await writer.save('data', known), { id, added: false });
      // A few new blobs, together under 4 MiB: still none.
      ids.push((await writer.save('tree', stored[0]!)).id, (await writer.save('data', stored[1]!)).id);
      assert.equal(writer.workerCount, 0);
      // Beyond 4 MiB the workers take over.
      ids.push((await writer.save('data', stored[2]!)).id);
      assert.ok(writer.workerCount > 0);
      ids.push((await writer.save('data', stored[3]!)).id);
      // The packs begun before the workers started are saved then, not held (with their buffers) until flush.
      const packs: string[] = [];
      await storage.list('data/', (info) => void packs.push(info.key));
      assert.equal(packs.length, 3, "the first writer's pack, then the data and the tree pack begun before the workers started");
      await writer.flush();
    } finally {
      await writer.close();
    }
    const again = await Repository.open(storage, 'pw', context);
    await again.loadIndex();
    for (const [i, blob] of stored.entries()) assert.ok((await again.loadBlob(i === 0 ? 'tree' : 'data', ids[i]!)).equals(blob));
  });
});
