import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { newRepository, seededBytes, tempDir, writeFiles, type TempDir } from '../repair/testing/repair-fixture.js';
import { Archiver, DEFAULT_LARGE_FILE_READS } from './archiver.js';
import { newProgress } from './backup.js';
import { Excludes } from './excludes.js';

describe('files from a minimum chunk up are read one at a time by default', () => {
  let tmp: TempDir;
  let dir: string;
  before(async () => {
    tmp = await tempDir();
    dir = join(tmp.path, 'src');
    // The fixture's repository cuts chunks of 1–16 KiB: each of these files is read into a maximum chunk's buffer.
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 12; i++) files[`f${i}`] = seededBytes(i + 1, 200_000 + i);
    await writeFiles(dir, files);
  });
  after(() => tmp.cleanup());

  /** Backs `dir` up with `largeFileReads` (undefined: the default); the most large-file reads at once. */
  async function mostReadsAtOnce(largeFileReads: number | undefined): Promise<number> {
    const { repo } = await newRepository();
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
      return archiver.largeReadsAtOnce;
    } finally {
      await writer.close();
    }
  }

  it('by default, one at a time', async () => {
    assert.equal(DEFAULT_LARGE_FILE_READS, 1);
    assert.equal(await mostReadsAtOnce(undefined), 1);
  });

  it('more at once when asked (so the count above can see several)', async () => {
    const most = await mostReadsAtOnce(4);
    assert.ok(most > 1 && most <= 4, `${most} at once`);
  });
});
