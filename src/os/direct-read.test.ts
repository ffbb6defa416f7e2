import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { allocateDirectRead, DirectReadFile } from './direct-read.js';
import { allocateAligned, DIRECT_ALIGN, writeAt } from './direct-write.js';
import { optionalAddon } from './native-addon.js';

fc.configureGlobal({ seed: 42, numRuns: 60 });

let dir: string;
before(async () => (dir = await mkdtemp(join(tmpdir(), 'ferry-direct-read-'))));
after(() => rm(dir, { recursive: true, force: true }));

/** Pages of `path` in the page cache, by util-linux's fincore; undefined where it is missing. */
function cachedPages(path: string): number | undefined {
  try {
    return Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'PAGES', path], { encoding: 'utf8' }).trim());
  } catch {
    return undefined;
  }
}

/** Whether the folder's file system takes O_DIRECT reads (dd, independent of the code under test). */
function takesDirectReads(folder: string): boolean {
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${join(folder, 'probe')}`, 'bs=4096', 'count=1', 'status=none']);
    execFileSync('dd', [`if=${join(folder, 'probe')}`, 'of=/dev/null', 'bs=4096', 'count=1', 'iflag=direct', 'status=none']);
    return true;
  } catch {
    return false;
  }
}

function patterned(length: number, seed: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

/** A file of `length` patterned bytes written past the page cache, so that none of it is cached. */
async function uncachedFile(name: string, length: number, seed: number): Promise<string> {
  const path = join(dir, name);
  const handle = await open(path, 'w+');
  try {
    const bytes = allocateAligned(length);
    patterned(length, seed).copy(bytes);
    await writeAt(handle, bytes, 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return path;
}

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

