// Crash safety: prune stopped at every step (a failpoint that throws, or a storage call that fails)
// leaves a repository that checks clean and restores, and a second prune finishes the job.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PermanentError } from '../../core/errors.js';
import { armedFailpoints } from '../../core/failpoints.js';
import type { Id } from '../../core/ids.js';
import { objectKey } from '../../storage/layout.js';
import type { Storage } from '../../storage/storage.js';
import type { StorageOperation } from '../../storage/testing/faulty-storage.js';
import { checkRepository } from '../checker/checker.js';
import { writeIndexFiles } from '../index/index-set.js';
import { pruneRepository } from './prune.js';
import { loadRepositoryState } from './repository-state.js';
import { FILES_B, keysUnder, openRepo, readSnapshot, reopen, scenario } from './testing/prune-fixture.js';

class SimulatedCrash extends Error {}

/** What a reader sees: no check error, B restores byte for byte, and prune's view of the index is the readers'. */
async function assertConsistent(storage: Storage, b: Id): Promise<void> {
  const check = await checkRepository(await reopen(storage), { readData: true });
  assert.deepEqual(check.errors, []);
  assert.deepEqual(await readSnapshot(storage, b), FILES_B);
  const state = await loadRepositoryState(await openRepo(storage));
  const readers = await reopen(storage);
  assert.deepEqual([...state.indexedPacks.keys()].sort(), [...readers.index.packs().keys()].sort(), 'prune and readers agree on the index in effect');
}

/** After a full prune: the same end state as an uninterrupted run, and nothing more to do. */
async function assertFinished(storage: Storage, b: Id): Promise<void> {
  await assertConsistent(storage, b);
  const check = await checkRepository(await reopen(storage), { readData: true });
  assert.deepEqual(check.warnings, [], 'no unindexed pack is left');
  assert.equal((await keysUnder(storage, 'data/')).length, 3);
  assert.equal((await keysUnder(storage, 'index/')).length, 1);
  const again = await pruneRepository(await openRepo(storage), {});
  assert.deepEqual([again.packsDeleted, again.packsRepacked, again.indexFilesRewritten], [0, 0, 0]);
}

describe('prune interrupted at a failpoint', () => {
  for (const spec of ['prune-packs-written', 'prune-index-written', 'prune-old-index-removed', 'prune-pack-removed', 'prune-pack-removed:3']) {
    it(`${spec}: consistent, and the next prune finishes`, async () => {
      const { storage, b } = await scenario();
      const crashes = armedFailpoints(spec, (name) => {
        throw new SimulatedCrash(name);
      });
      await assert.rejects(pruneRepository(await openRepo(storage, crashes), {}), SimulatedCrash);
      await assertConsistent(storage, b);
      await pruneRepository(await openRepo(storage), {});
      await assertFinished(storage, b);
    });
  }
});

describe('prune interrupted by a failing storage call', () => {
  const faults: [string, StorageOperation, string][] = [
    ['saving a new pack', 'save', 'data/'],
    ['saving the new index file', 'save', 'index/'],
    ['removing an old index file', 'remove', 'index/'],
    ['removing a pack', 'remove', 'data/'],
  ];
  for (const [name, operation, keyPrefix] of faults) {
    it(`${name} fails: consistent, and the next prune finishes`, async () => {
      const { storage, b } = await scenario();
      storage.addFault(operation, { keyPrefix }).errorInstead(new PermanentError(`injected: ${name}`)).times(1);
      await assert.rejects(pruneRepository(await openRepo(storage), {}), PermanentError);
      assert.ok(storage.calls.some((call) => call.fault !== undefined), 'the fault fired');
      storage.clearFaults();
      await assertConsistent(storage, b);
      await pruneRepository(await openRepo(storage), {});
      await assertFinished(storage, b);
    });
  }
});

describe('writeIndexFiles', () => {
  it('splits a large index over several files; only the last supersedes the old ones', async () => {
    const { storage } = await scenario();
    const repo = await openRepo(storage);
    const state = await loadRepositoryState(repo);
    const written = await writeIndexFiles(repo.storage, repo.key.encryptionKey, [...state.indexedPacks.values()], state.indexFiles, { maxBlobs: 1 });
    assert.equal(written.length, state.indexedPacks.size, 'one pack per file: each pack has more than one blob');
    const after = await loadRepositoryState(await openRepo(storage));
    assert.deepEqual(after.supersededIndexFiles, state.indexFiles);
    assert.deepEqual([...after.indexedPacks.keys()].sort(), [...state.indexedPacks.keys()].sort());
  });

  it('a crash before the last file leaves the old index in effect, and prune then finishes', async () => {
    const { storage, b } = await scenario();
    const repo = await openRepo(storage);
    const state = await loadRepositoryState(repo);
    const written = await writeIndexFiles(repo.storage, repo.key.encryptionKey, [...state.indexedPacks.values()], state.indexFiles, { maxBlobs: 1 });
    await storage.remove(objectKey('index', written[written.length - 1]!));
    const after = await loadRepositoryState(await openRepo(storage));
    assert.deepEqual(after.supersededIndexFiles, []);
    await assertConsistent(storage, b);
    await pruneRepository(await openRepo(storage), {});
    await assertFinished(storage, b);
  });

  it('with no pack, writes one empty file that supersedes the old ones', async () => {
    const { storage } = await scenario();
    const repo = await openRepo(storage);
    const state = await loadRepositoryState(repo);
    assert.equal((await writeIndexFiles(repo.storage, repo.key.encryptionKey, [], state.indexFiles)).length, 1);
    const after = await loadRepositoryState(await openRepo(storage));
    assert.equal(after.indexedPacks.size, 0);
    assert.deepEqual(after.supersededIndexFiles, state.indexFiles);
  });
});
