import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { MemoryStorage } from '../../storage/memory-storage.js';
import { context, password, seededBytes, small, tempDir, writeFiles, type TempDir } from '../repair/testing/repair-fixture.js';
import { Repository } from '../repository/repository.js';
import { Archiver, DEFAULT_LARGE_FILE_READS } from './archiver.js';
import { newProgress } from './backup.js';
import { Excludes } from './excludes.js';

/**
 * The fixture's chunks (1–16 KiB), and a large-file chunker (256 B–4 KiB) for files from 100 kB: every file
 * below holds a buffer of a maximum chunk (16 KiB) while it is read, every file from it one of 4 KiB.
 */
const MAX_CHUNK = 16 * 1024;
const LARGE_FILE_MAX_CHUNK = 4 * 1024;
const options = { ...small, largeFiles: { minFileSize: 100_000, chunker: { minSize: 256, avgSize: 1024, maxSize: LARGE_FILE_MAX_CHUNK } } };

describe('files from a minimum chunk up: one read at a time by default; of several, one into a maximum chunk', () => {
  let tmp: TempDir;
  /** 12 files of 50 kB each (maximum-chunk buffers), 12 of 200 kB each (the large-file chunker's). */
  let middle: string;
  let large: string;
  before(async () => {
    tmp = await tempDir();
    middle = join(tmp.path, 'middle');
    large = join(tmp.path, 'large');
    const m: Record<string, Buffer> = {};
    const l: Record<string, Buffer> = {};
    for (let i = 0; i < 12; i++) {
      m[`f${i}`] = seededBytes(i + 1, 50_000 + i);
      l[`f${i}`] = seededBytes(i + 100, 200_000 + i);
    }
    await writeFiles(middle, m);
    await writeFiles(large, l);
  });
  after(() => tmp.cleanup());

  /** Backs `dir` up with `largeFileReads` (undefined: the default); what the archiver saw of its reads. */
  async function backUp(dir: string, largeFileReads: number | undefined): Promise<{ atOnce: number; bytes: { most: number; budget: number } }> {
    const repo = await Repository.init(new MemoryStorage(), password, context, options);
    const writer = repo.createWriter({ workers: 0 });
    try {
      const archiver = new Archiver(repo, writer, {
        excludes: await Excludes.create({}, [dir]),
        progress: newProgress(),
        onSkipped: (entry) => assert.fail(`skipped ${entry.path}: ${entry.error}`),
        ...(largeFileReads === undefined ? {} : { largeFileReads }),
      });
      await archiver.archive([dir], undefined);
      await writer.flush();
      return { atOnce: archiver.largeReadsAtOnce, bytes: archiver.readBytes };
    } finally {
      await writer.close();
    }
  }

  it('files read with the large-file chunker: one at a time by default, two when asked', async () => {
    assert.equal(DEFAULT_LARGE_FILE_READS, 1);
    assert.equal((await backUp(large, undefined)).atOnce, 1);
    const two = await backUp(large, 2);
    assert.equal(two.atOnce, 2);
    assert.ok(two.bytes.most <= 2 * LARGE_FILE_MAX_CHUNK, `${two.bytes.most} bytes of read buffers at once`);
  });

  it('files read into a maximum chunk: one at a time, whatever the reads at once', async () => {
    for (const reads of [undefined, 2, 3]) {
      const { atOnce, bytes } = await backUp(middle, reads);
      assert.equal(atOnce, 1, `${reads ?? 'default'} reads`);
      assert.ok(bytes.most <= MAX_CHUNK, `${bytes.most} bytes of read buffers at once (budget ${bytes.budget})`);
    }
  });
});
