import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { readCached } from './cached-read.js';
import { optionalAddon } from './native-addon.js';
import { patterned, takesDirectWrites, uncachedFile } from './testing/page-cache.js';

fc.configureGlobal({ seed: 42, numRuns: 60 });

let dir: string;
before(async () => (dir = await mkdtemp(join(tmpdir(), 'ferry-cached-read-'))));
after(() => rm(dir, { recursive: true, force: true }));

const withAddon = optionalAddon()?.preadCached !== undefined;

/** Whether the folder's file system answers reads that must not wait (RWF_NOWAIT): ext4, XFS and Btrfs do. */
function answersNoWaitReads(folder: string): boolean {
  const type = execFileSync('stat', ['-f', '-c', '%T', folder], { encoding: 'utf8' }).trim();
  return ['ext2/ext3', 'xfs', 'btrfs'].includes(type);
}

/** Runs `use` with the file at `path` open for reading. */
async function withFile<T>(path: string, use: (fd: number) => T): Promise<T> {
  const handle = await open(path, 'r');
  try {
    return use(handle.fd);
  } finally {
    await handle.close();
  }
}

describe('readCached', { skip: withAddon ? false : 'the addon is not built' }, () => {
  it('copies a file that was just written, at any position and length, up to its end', async (t) => {
    if (!answersNoWaitReads(dir)) return t.skip('this file system may not answer reads from the page cache that must not wait');
    const length = 3 * 4096 + 123;
    const path = join(dir, 'written');
    await writeFile(path, patterned(length, 5));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: length + 100 }), fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 64 }), async (position, asked, offset) => {
        const target = Buffer.alloc(offset + asked);
        const copied = await withFile(path, (fd) => readCached(fd, target, offset, asked, position));
        const expected = patterned(length, 5).subarray(Math.min(position, length), Math.min(position + asked, length));
        assert.equal(copied, expected.length);
        assert.ok(target.subarray(offset, offset + copied).equals(expected));
      }),
    );
  });

  it('copies nothing of a file that is not in the page cache', async (t) => {
    if (!takesDirectWrites(dir)) return t.skip('this file system takes no O_DIRECT writes, so every file written is cached');
    const length = 64 * 1024;
    const path = await uncachedFile(join(dir, 'uncached'), length, 9);
    const target = Buffer.alloc(length);
    assert.equal(await withFile(path, (fd) => readCached(fd, target, 0, length, 0)), 0);
  });

  it('stops at the first byte that is not cached and copies what was before it', async (t) => {
    if (!answersNoWaitReads(dir)) return t.skip('this file system may not answer reads from the page cache that must not wait');
    if (!takesDirectWrites(dir)) return t.skip('this file system takes no O_DIRECT writes, so every file written is cached');
    // Longer than any read-ahead window, so that the kernel cannot have read all of it.
    const length = 32 * 1024 * 1024;
    const path = await uncachedFile(join(dir, 'half'), length, 11);
    // Reading the first 8 KiB through the kernel caches them (and whatever it reads ahead).
    const reader = await open(path, 'r');
    await reader.read(Buffer.alloc(8192), 0, 8192, 0);
    await reader.close();
    const target = Buffer.alloc(length);
    const copied = await withFile(path, (fd) => readCached(fd, target, 0, length, 0));
    assert.ok(copied >= 8192 && copied < length, `copied ${copied} bytes`);
    assert.ok(target.subarray(0, copied).equals(patterned(length, 11).subarray(0, copied)));
  });

  it('throws the system error of a descriptor it cannot read', async () => {
    const path = join(dir, 'write-only');
    await writeFile(path, 'x');
    const handle = await open(path, 'w');
    try {
      assert.throws(() => readCached(handle.fd, Buffer.alloc(1), 0, 1, 0), { code: 'EBADF', syscall: 'read' });
    } finally {
      await handle.close();
    }
  });
});
