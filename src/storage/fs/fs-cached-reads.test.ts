import assert from 'node:assert/strict';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FsStorage } from './fs-storage.js';
import { patterned, takesDirectWrites, uncachedFile } from '../../os/testing/page-cache.js';

let dir: string;
before(async () => (dir = await mkdtemp(join(tmpdir(), 'ferry-fs-cached-'))));
after(() => rm(dir, { recursive: true, force: true }));

describe("FsStorage's ranged reads", () => {
  it('load the same bytes when only the start of the range is in the page cache (copied there) and the rest is not', async (t) => {
    if (!takesDirectWrites(dir)) return t.skip('this file system takes no O_DIRECT writes, so every file written is cached');
    const root = join(dir, 'storage');
    const key = `data/ef/${'ef'.repeat(32)}`;
    const length = 24 * 1024 * 1024;
    await mkdir(join(root, 'data', 'ef'), { recursive: true });
    await uncachedFile(join(root, key), length, 13);
    const start = await open(join(root, key), 'r');
    await start.read(Buffer.alloc(64 * 1024), 0, 64 * 1024, 0);
    await start.close();
    const storage = new FsStorage(root);
    try {
      // Within the size read on the calling thread first (1 MiB), then beyond it.
      for (const [offset, asked] of [[1000, 900 * 1024], [0, length]] as const) {
        const bytes = await storage.load(key, { offset, length: asked });
        assert.ok(bytes.equals(patterned(length, 13).subarray(offset, offset + asked)), `${offset}+${asked}`);
      }
    } finally {
      await storage.close();
    }
  });
});
