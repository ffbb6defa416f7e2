import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { allocateDirectRead, DirectReadFile } from './direct-read.js';
import { DIRECT_ALIGN } from './direct-write.js';
import { optionalAddon } from './native-addon.js';
import { cachedPages, patterned, takesDirectReads, uncachedFile as uncachedFileAt } from './testing/page-cache.js';

fc.configureGlobal({ seed: 42, numRuns: 60 });

let dir: string;
before(async () => (dir = await mkdtemp(join(tmpdir(), 'ferry-direct-read-'))));
after(() => rm(dir, { recursive: true, force: true }));

/** A file in the test folder of `length` patterned bytes written past the page cache. */
const uncachedFile = (name: string, length: number, seed: number): Promise<string> => uncachedFileAt(join(dir, name), length, seed);

describe('DirectReadFile', () => {
  it('reads exactly the bytes asked for, at any position and length', async () => {
    const length = 5 * DIRECT_ALIGN + 77;
    const path = join(dir, 'any');
    await writeFile(path, patterned(length, 3));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: length }), fc.integer({ min: 0, max: length }), async (a, b) => {
        const [position, end] = a <= b ? [a, b] : [b, a];
        const file = await DirectReadFile.open(path);
        try {
          const read = await file.read(allocateDirectRead(end - position), position, end - position);
          assert.ok(read.equals(patterned(length, 3).subarray(position, end)));
        } finally {
          await file.close();
        }
      }),
    );
  });

  it('rejects a read past the end of the file', async () => {
    const path = join(dir, 'short');
    await writeFile(path, patterned(DIRECT_ALIGN + 10, 1));
    const file = await DirectReadFile.open(path);
    try {
      await assert.rejects(file.read(allocateDirectRead(100), DIRECT_ALIGN, 100), /ended early/);
    } finally {
      await file.close();
    }
  });

  it('reads past the page cache where the file system allows', async (t) => {
    if (!takesDirectReads(dir) || cachedPages(join(dir, 'probe')) === undefined) {
      t.skip('no O_DIRECT on this file system, or no fincore: only the bytes are checked (above)');
      return;
    }
    assert.ok(optionalAddon()?.alignmentOf, 'the native addon is built (npm ci)');
    const length = 64 * DIRECT_ALIGN;
    const path = await uncachedFile('uncached', length, 5);
    assert.equal(cachedPages(path), 0, 'written past the cache');
    const file = await DirectReadFile.open(path);
    try {
      assert.ok(file.isDirect);
      const read = await file.read(allocateDirectRead(length - 1000), 1000, length - 1000);
      assert.ok(read.equals(patterned(length, 5).subarray(1000)));
    } finally {
      await file.close();
    }
    assert.equal(cachedPages(path), 0, 'nothing read into the page cache');
  });
});

