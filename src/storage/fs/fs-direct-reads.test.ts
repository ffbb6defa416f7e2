import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fitsDirectRead } from '../../os/direct-read.js';
import { allocateAligned, DIRECT_ALIGN } from '../../os/direct-write.js';
import { FsStorage } from './fs-storage.js';
import { cachedPages, patterned, takesDirectReads, uncachedFile as uncachedFileAt } from '../../os/testing/page-cache.js';

let dir: string;
before(async () => (dir = await mkdtemp(join(tmpdir(), 'ferry-fs-direct-'))));
after(() => rm(dir, { recursive: true, force: true }));

/** A file in the test folder of `length` patterned bytes written past the page cache. */
const uncachedFile = (name: string, length: number, seed: number): Promise<string> => uncachedFileAt(join(dir, name), length, seed);

describe("FsStorage's directReads", () => {
  it('loads the same bytes into a target whether the read can go past the page cache or not', async () => {
    const root = join(dir, 'storage');
    const key = `data/ab/${'ab'.repeat(32)}`;
    const length = 3 * DIRECT_ALIGN + 50;
    await new FsStorage(root).save(key, patterned(length, 7));
    const storage = new FsStorage(root, { directReads: true });
    const cases = [
      { offset: 0, length, target: allocateAligned(4 * DIRECT_ALIGN) },
      { offset: DIRECT_ALIGN, length: length - DIRECT_ALIGN, target: allocateAligned(length) },
      { offset: 10, length: 100, target: allocateAligned(DIRECT_ALIGN) },
      { offset: 0, length, target: Buffer.alloc(length) },
    ];
    for (const { offset, length: n, target } of cases) {
      await storage.loadInto(key, { offset, length: n }, target);
      assert.ok(target.subarray(0, n).equals(patterned(length, 7).subarray(offset, offset + n)), `${offset}+${n}`);
    }
    await assert.rejects(storage.loadInto(key, { offset: DIRECT_ALIGN, length }, allocateAligned(2 * length)), /too few/);
    await storage.close();
  });

  it('reads an aligned range into an aligned target past the page cache, and only with the option', async (t) => {
    if (!takesDirectReads(dir) || cachedPages(join(dir, 'probe')) === undefined) {
      t.skip('no O_DIRECT on this file system, or no fincore: only the bytes are checked (above)');
      return;
    }
    const root = join(dir, 'storage-cache');
    const length = 32 * DIRECT_ALIGN;
    await uncachedFile('object', length, 9);
    await mkdir(join(root, 'index'), { recursive: true });
    const key = `index/${'cd'.repeat(32)}`;
    await rename(join(dir, 'object'), join(root, key));
    assert.ok(fitsDirectRead(allocateAligned(length), 0, length));
    const direct = new FsStorage(root, { directReads: true });
    await direct.loadInto(key, { offset: 0, length }, allocateAligned(length));
    await direct.close();
    assert.equal(cachedPages(join(root, key)), 0, 'read past the page cache');
    const buffered = new FsStorage(root);
    await buffered.loadInto(key, { offset: 0, length }, allocateAligned(length));
    await buffered.close();
    assert.ok(cachedPages(join(root, key))! > 0, 'without the option the page cache is used');
  });
});
