import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bytePath } from '../fs/byte-path.js';
import { Excludes } from './excludes.js';

/** A stat result with only what the rules read. */
const stat = (kind: 'dir' | 'file', size = 0, dev = 1n) => ({ isDirectory: () => kind === 'dir', size, dev });

describe('Excludes', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'ferry-excludes-'));
    await mkdir(join(root, 'tagged', 'sub'), { recursive: true });
    await writeFile(join(root, 'tagged', '.nobackup'), '');
    await mkdir(join(root, 'cache'));
    await writeFile(join(root, 'cache', 'CACHEDIR.TAG'), 'Signature: 8a477f597d28d172789f06886806bc55 and more');
    await mkdir(join(root, 'fake'));
    await writeFile(join(root, 'fake', 'CACHEDIR.TAG'), 'Signature: wrong');
  });
  after(() => rm(root, { recursive: true, force: true }));

  const excluded = (excludes: Excludes, path: string, st = stat('file')): Promise<boolean> => excludes.excluded(bytePath(path), st);

  it('keeps everything without rules', async () => {
    const none = Excludes.none();
    assert.ok(none.empty);
    assert.equal(await excluded(none, '/a/b'), false);
  });

  it('--exclude and --iexclude are separate lists: a ! in one does not take back a match of the other', async () => {
    const excludes = await Excludes.create({ exclude: ['src'], iexclude: ['!SRC'] }, [root]);
    assert.equal(await excluded(excludes, '/t/src', stat('dir')), true);
    const both = await Excludes.create({ exclude: ['*.JPG'], iexclude: ['*.png'] }, [root]);
    assert.equal(await excluded(both, '/t/a.jpg'), false);
    assert.equal(await excluded(both, '/t/a.JPG'), true);
    assert.equal(await excluded(both, '/t/a.PNG'), true);
  });

  it('--exclude-if-present leaves out what a tagged folder holds, but the folder and the tag stay', async () => {
    const excludes = await Excludes.create({ ifPresent: ['.nobackup'] }, [root]);
    assert.equal(await excluded(excludes, join(root, 'tagged'), stat('dir')), false);
    assert.equal(await excluded(excludes, join(root, 'tagged', '.nobackup')), false);
    assert.equal(await excluded(excludes, join(root, 'tagged', 'sub'), stat('dir')), true);
    assert.equal(await excluded(excludes, join(root, 'cache', 'x')), false);
  });

  it('--exclude-if-present FILE:HEADER needs the header at the start of the tag file', async () => {
    const excludes = await Excludes.create({ ifPresent: ['CACHEDIR.TAG:Signature: 8a477f597d28d172789f06886806bc55'] }, [root]);
    assert.equal(await excluded(excludes, join(root, 'cache', 'blob')), true);
    assert.equal(await excluded(excludes, join(root, 'fake', 'blob')), false);
    await assert.rejects(Excludes.create({ ifPresent: [':header'] }, [root]), /give a file name/);
  });

  it('--exclude-larger-than leaves out larger files, never folders', async () => {
    const excludes = await Excludes.create({ largerThan: 1024 }, [root]);
    assert.equal(await excluded(excludes, '/t/big', stat('file', 1025)), true);
    assert.equal(await excluded(excludes, '/t/exact', stat('file', 1024)), false);
    assert.equal(await excluded(excludes, '/t/dir', stat('dir', 1 << 20)), false);
  });

  it('--one-file-system: another device is left out, except a mount point right below a kept folder (kept, empty)', async () => {
    const excludes = await Excludes.create({ oneFileSystem: true }, [root]);
    const { dev } = await import('node:fs/promises').then((fs) => fs.lstat(root, { bigint: true }));
    const other = dev + 1n;
    assert.equal(await excluded(excludes, join(root, 'tagged'), stat('dir', 0, dev)), false);
    assert.equal(await excluded(excludes, join(root, 'tagged', 'file'), stat('file', 0, other)), true);
    assert.equal(await excluded(excludes, join(root, 'tagged'), stat('dir', 0, other)), false, 'a mount point whose parent is on the source');
    assert.equal(await excluded(excludes, join(root, 'tagged', 'sub'), stat('dir', 0, other)), false, 'its parent is on the source too');
  });

  it('names the patterns that left nothing out', async () => {
    const excludes = await Excludes.create({ exclude: ['*.c', 'never', '!x'], iexclude: ['NOPE'] }, [root]);
    await excluded(excludes, '/t/a.c');
    await excluded(excludes, '/t/b.h');
    assert.deepEqual(excludes.unmatched(), ['--exclude never', "--exclude '!x'", '--iexclude NOPE']);
  });
});
