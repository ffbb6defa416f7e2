import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PermanentError } from '../../core/errors.js';
import { MemoryStorage } from '../../storage/memory-storage.js';
import { FaultyStorage } from '../../storage/testing/faulty-storage.js';
import { context, password, seededBytes, small, tempDir, writeFiles, type TempDir } from '../repair/testing/repair-fixture.js';
import { Repository } from '../repository/repository.js';
import { backup } from './backup.js';

describe('a backup whose store stops taking packs', () => {
  let tmp: TempDir;
  before(async () => {
    tmp = await tempDir();
    // Many files in one folder: most of them are still waiting to be read when the first pack fails.
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 40; i++) files[`folder/file-${String(i).padStart(2, '0')}`] = seededBytes(i, 50_000);
    await writeFiles(join(tmp.path, 'src'), files);
  });
  after(() => tmp.cleanup());

  for (const workers of [0, 2]) {
    it(`fails with the store's error and reports no file as unreadable (${workers} encoder workers)`, async () => {
      const storage = new FaultyStorage(new MemoryStorage());
      const repo = await Repository.init(storage, password, context, small);
      storage.addFault('save', { keyPrefix: 'data/' }).errorInstead(new PermanentError('the store is gone'));
      const skipped: string[] = [];
      await assert.rejects(
        backup(repo, { paths: [join(tmp.path, 'src')], uid: 0, gid: 0, workers, stallBeforeNextWorker: 0, onSkipped: (entry) => skipped.push(`${entry.path}: ${String(entry.error)}`) }),
        /the store is gone/,
      );
      // Reads still queued when it failed must not go on afterwards either (they would find their folder closed).
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(skipped, []);
    });
  }
});
