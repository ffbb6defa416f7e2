import assert from 'node:assert/strict';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { DIRECT_ALIGN } from '../os/direct-write.js';
import { optionalAddon } from '../os/native-addon.js';
import { DiskFileWriter } from './disk-file-writer.js';
import { cachedPages, patterned as patternedBy, takesDirectWrites } from '../os/testing/page-cache.js';

fc.configureGlobal({ seed: 42, numRuns: 40 });

let dir: string;
before(async () => (dir = await mkdtemp(join(tmpdir(), 'ferry-disk-writer-'))));
after(() => rm(dir, { recursive: true, force: true }));

/** Writes `files` (each a list of appends of parts) one after the other with one writer; answers the paths. */
async function writeFiles(writer: DiskFileWriter, name: string, files: readonly (readonly Buffer[][])[]): Promise<string[]> {
  const paths: string[] = [];
  for (const [i, appends] of files.entries()) {
    const path = join(dir, `${name}-${i}`);
    const handle = await open(path, 'w');
    try {
      writer.start(handle);
      for (const parts of appends) await writer.append(parts);
      await writer.finish();
    } finally {
      await handle.close();
    }
    paths.push(path);
  }
  return paths;
}

const patterned = (length: number, seed: number): Buffer => patternedBy(length, seed, 7);

describe('DiskFileWriter', () => {
  it('writes exactly the parts appended, in order, file after file with one writer', async () => {
    const part = fc.integer({ min: 0, max: 3 * DIRECT_ALIGN + 40 }).map((n) => patterned(n, n));
    const big = fc.constantFrom(1024 * 1024, 1024 * 1024 + 16, 5 * 1024 * 1024 + 3).map((n) => patterned(n, 1));
    const appends = fc.array(fc.array(fc.oneof({ weight: 5, arbitrary: part }, { weight: 1, arbitrary: big }), { maxLength: 4 }), { maxLength: 4 });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(appends, { minLength: 1, maxLength: 3 }), async (files) => {
        const writer = new DiskFileWriter();
        const paths = await writeFiles(writer, `prop-${run++}`, files);
        for (const [i, path] of paths.entries()) assert.ok((await readFile(path)).equals(Buffer.concat(files[i]!.flat())), `file ${i}`);
      }),
    );
  });

  it('writes the whole blocks past the page cache where the file system allows', async (t) => {
    if (!takesDirectWrites(dir) || cachedPages(join(dir, 'probe')) === undefined) {
      t.skip('no O_DIRECT on this file system, or no fincore: only the bytes are checked (above)');
      return;
    }
    assert.ok(optionalAddon()?.pwriteDirect, 'the native addon is built (npm ci)');
    // As a disk file: a 24-byte header, then records of a segment and its 16-byte tag.
    const appends = [[patterned(24, 0)], ...Array.from({ length: 3 }, (_, k) => [patterned(1024 * 1024, k), patterned(16, k)])];
    const [path] = await writeFiles(new DiskFileWriter(), 'cache', [appends]);
    // Only the last partial block goes through the page cache.
    assert.ok(cachedPages(path!)! <= 1, `${cachedPages(path!)} pages cached`);
    assert.ok((await readFile(path!)).equals(Buffer.concat(appends.flat())));
  });

  it('rejects with the file system error and refuses appends to no file', async () => {
    const path = join(dir, 'read-only');
    await (await open(path, 'w')).close();
    const handle = await open(path, 'r');
    const writer = new DiskFileWriter();
    try {
      writer.start(handle);
      await assert.rejects(writer.append([patterned(2 * DIRECT_ALIGN, 3)]), (err: NodeJS.ErrnoException) => err.code === 'EBADF');
    } finally {
      await handle.close();
    }
    await assert.rejects(new DiskFileWriter().finish(), /no file started/);
  });
});
