import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { noFailpoints } from '../../core/failpoints.js';
import type { Id } from '../../core/ids.js';
import { MemoryStorage } from '../../storage/memory-storage.js';
import { INSECURE_TEST_KDF } from '../crypto/key-slot.js';
import { seededBytes } from '../testing/arbitraries.js';
import { Repository, type RepositoryContext } from './repository.js';
import { RepositoryWriter, type ThreadLoad, type WorkerStartOptions } from './repository-writer.js';

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

  describe("with workers started 'when-busy' (FERRY_ENCODER_START=when-busy)", () => {
    /** A clock that advances 300 ms per reading, and a thread that spent `share` of that on the CPU. */
    function loadOf(share: number): ThreadLoad {
      let now = 0;
      return { now: () => (now += 300), cpu: () => now * share };
    }

    async function storeBlobs(start: WorkerStartOptions, blobs: number): Promise<{ workersDuring: number[]; packs: number; ids: Id[]; repo: Repository; storage: MemoryStorage }> {
      const storage = new MemoryStorage();
      const repo = await Repository.init(storage, 'pw', context, { kdf: INSECURE_TEST_KDF });
      const { packSize, compressionLevel } = repo.config;
      const writer = new RepositoryWriter(storage, repo.key, repo.index, packSize, compressionLevel, noFailpoints, 1, undefined, {}, start);
      const workersDuring: number[] = [];
      const ids: Id[] = [];
      try {
        for (let i = 0; i < blobs; i++) {
          ids.push((await writer.save('data', seededBytes(10 + i, MiB))).id);
          workersDuring.push(writer.workerCount);
        }
        await writer.flush();
      } finally {
        await writer.close();
      }
      let packs = 0;
      await storage.list('data/', () => void packs++);
      return { workersDuring, packs, ids, repo, storage };
    }

    it('stores on the calling thread while it keeps up, in whole packs, the blobs sealed in place', async () => {
      const { workersDuring, packs, ids, storage } = await storeBlobs({ when: 'when-busy', load: loadOf(0.5) }, 12);
      assert.deepEqual(workersDuring, Array(12).fill(0), 'no worker while the thread is half idle');
      assert.equal(packs, 1, "one pack: the calling thread's packs are whole packs, not the 4 MiB ones of an early start");
      const again = await Repository.open(storage, 'pw', context);
      await again.loadIndex();
      for (const [i, id] of ids.entries()) assert.ok((await again.loadBlob('data', id)).equals(seededBytes(10 + i, MiB)));
    });

    it('starts the workers beyond 4 MiB once a window finds the calling thread saturated', async () => {
      const { workersDuring } = await storeBlobs({ when: 'when-busy', load: loadOf(0.9) }, 8);
      // The first window ends at the 5th blob (1.2 s after it began), past the 4 MiB every writer stores itself first.
      assert.deepEqual(workersDuring, [0, 0, 0, 0, 1, 1, 1, 1]);
    });

    it('starts the workers beyond its byte limit even while the thread keeps up, and at once where its CPU time is unknown', async () => {
      const capped = await storeBlobs({ when: 'when-busy', load: loadOf(0.1), maxInlineBytes: 6 * MiB }, 8);
      assert.deepEqual(capped.workersDuring, [0, 0, 0, 0, 0, 0, 1, 1]);
      const unknown = await storeBlobs({ when: 'when-busy', load: { now: () => 0, cpu: () => undefined } }, 6);
      assert.deepEqual(unknown.workersDuring, [0, 0, 0, 0, 1, 1], 'as an early start: beyond 4 MiB');
    });
  });
});
