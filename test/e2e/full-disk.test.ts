// A backup into a repository on a full file system (a small tmpfs, mounted for the test: needs root, as CI
// runs; elsewhere the test is skipped with the reason). Packs are written past the page cache
// (src/os/direct-write.ts), so this is also the end-to-end check that a refused O_DIRECT write reports the
// file system's error as the one documented line, removes its temp file and leaves the repository whole.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ferry, ferryOk, makeTempDir, type TempDir } from './harness.js';

/** Mounts a tmpfs of `megabytes` at `dir`; false when this process may not (not root, or no mount). */
function mountTmpfs(dir: string, megabytes: number): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m,mode=0700`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('a full disk under the repository', () => {
  let tmp: TempDir;
  let disk: string;
  let mounted = false;

  before(async () => {
    tmp = await makeTempDir();
    disk = join(tmp.path, 'disk');
    await mkdir(disk);
    mounted = mountTmpfs(disk, 8);
  });
  after(async () => {
    if (mounted) execFileSync('umount', [disk]);
    await tmp.cleanup();
  });

  it('says so in one line, exits 1, leaves no temp file and a repository that checks and backs up again', async (t) => {
    if (!mounted) {
      t.skip('cannot mount a tmpfs here (needs root)');
      return;
    }
    const repo = join(disk, 'repo');
    const source = join(tmp.path, 'src');
    await mkdir(source);
    await writeFile(join(source, 'big.bin'), randomBytes(16 * 1024 * 1024));
    await writeFile(join(source, 'small.txt'), 'still backed up once there is room\n');
    await ferryOk(['init', '-r', repo]);

    const full = await ferry(['backup', '-r', repo, source]);
    assert.equal(full.code, 1, full.stderr);
    // A data pack is written as it fills (Storage.begin): the disk fills while it has no name yet, or at its commit.
    assert.match(full.stderr, /^ferry: no space left on device while saving (data\/[0-9a-f]{2}\/[0-9a-f]{64}|a new object in data\/): free space at .* and retry\n$/);
    const leftovers = (await readdir(repo, { recursive: true })).filter((name) => name.split('/').some((part) => part.startsWith('.tmp-')));
    assert.deepEqual(leftovers, [], 'no temp file is left');
    assert.equal((await ferry(['check', '-r', repo, '--read-data'])).code, 0);

    await rm(join(source, 'big.bin'));
    await ferryOk(['backup', '-r', repo, source]);
    const check = await ferryOk(['check', '-r', repo, '--read-data']);
    assert.match(check.stdout, /checked 1 snapshots/);
    const restored = join(tmp.path, 'restored');
    await ferryOk(['restore', '-r', repo, 'latest', '--target', restored]);
    assert.deepEqual(await readdir(join(restored, source)), ['small.txt']);
  });
});
