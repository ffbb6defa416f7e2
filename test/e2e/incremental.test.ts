import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFile, copyFile, mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ferryOk, lastJson, makeTempDir, type TempDir } from './harness.js';

interface Summary {
  files_new: number;
  files_changed: number;
  files_unmodified: number;
  data_added: number;
  bytes_read: number;
  snapshot_id: string;
}

const MiB = 1024 * 1024;

describe('incremental backups', () => {
  let tmp: TempDir;
  let repo: string;
  let source: string;
  const backup = async (): Promise<Summary> => lastJson<Summary>((await ferryOk(['backup', '-r', repo, source, '--json'])).stdout);

  before(async () => {
    tmp = await makeTempDir();
    repo = join(tmp.path, 'repo');
    source = join(tmp.path, 'src');
    await mkdir(join(source, 'a', 'b'), { recursive: true });
    await writeFile(join(source, 'large.img'), randomBytes(40 * MiB));
    await writeFile(join(source, 'shifted.bin'), randomBytes(24 * MiB));
    for (let i = 0; i < 50; i++) await writeFile(join(source, 'a', `f${i}.txt`), `file ${i}\n`.repeat(200 + i));
    await writeFile(join(source, 'a', 'b', 'log.txt'), 'start\n');
    await ferryOk(['init', '-r', repo]);
  });
  after(() => tmp.cleanup());

  it('the first backup stores everything; a second one with no change reads nothing and adds only metadata', async () => {
    const first = await backup();
    assert.equal(first.files_new, 53);
    assert.ok(first.data_added >= 64 * MiB);
    const second = await backup();
    assert.equal(second.files_unmodified, 53);
    assert.equal(second.files_new + second.files_changed, 0);
    assert.equal(second.bytes_read, 0, 'unchanged files are not read');
    assert.ok(second.data_added < 64 * 1024, `no-change backup added ${second.data_added} bytes`);
  });

  it('a changed large file stores only its changed chunks', async () => {
    const file = await open(join(source, 'large.img'), 'r+');
    await file.write(randomBytes(4096), 0, 4096, 20 * MiB);
    await file.close();
    const result = await backup();
    assert.equal(result.files_changed, 1);
    assert.equal(result.bytes_read, 40 * MiB, 'only the changed file is read');
    // Files from 32 MiB are cut into ~256 KiB chunks (at most 2 MiB): one write re-stores a chunk or two.
    assert.ok(result.data_added <= 3 * 2 * MiB, `a 4 KiB write added ${result.data_added} bytes`);
  });

  it('scattered page rewrites in a large file store about a small chunk per page', async () => {
    const file = await open(join(source, 'large.img'), 'r+');
    for (let page = 0; page < 20; page++) await file.write(randomBytes(4096), 0, 4096, page * 2 * MiB + 8192);
    await file.close();
    const result = await backup();
    assert.equal(result.files_changed, 1);
    // With 1 MiB chunks (the normal parameters) this would add about 20 x 1.5 MiB.
    assert.ok(result.data_added < 14 * MiB, `20 page writes added ${result.data_added} bytes`);
  });

  it('data shifted by an insertion deduplicates', async () => {
    const path = join(source, 'shifted.bin');
    const original = await readFile(path);
    await writeFile(path, Buffer.concat([original.subarray(0, 10 * MiB), Buffer.from('inserted bytes'), original.subarray(10 * MiB)]));
    const result = await backup();
    assert.equal(result.files_changed, 1);
    assert.ok(result.data_added < 10 * MiB, `an insertion into 24 MiB added ${result.data_added} bytes`);
  });

  it('identical files anywhere deduplicate, and appends store little', async () => {
    await copyFile(join(source, 'large.img'), join(source, 'a', 'b', 'copy-of-large.img'));
    await appendFile(join(source, 'a', 'b', 'log.txt'), 'one more line\n');
    const result = await backup();
    assert.equal(result.files_new, 1);
    assert.equal(result.files_changed, 1);
    assert.ok(result.data_added < 64 * 1024, `a copy and an append added ${result.data_added} bytes`);
  });

  it('every snapshot still restores and the repository checks clean', async () => {
    await ferryOk(['check', '-r', repo, '--read-data']);
    const target = join(tmp.path, 'restored');
    await ferryOk(['restore', '-r', repo, 'latest', '--target', target]);
    assert.ok((await readFile(join(target, source, 'a', 'b', 'copy-of-large.img'))).equals(await readFile(join(source, 'large.img'))));
    const snapshots = JSON.parse((await ferryOk(['snapshots', '-r', repo, '--json'])).stdout) as { id: string; parent?: string }[];
    assert.equal(snapshots.length, 6);
    for (let i = 1; i < snapshots.length; i++) assert.equal(snapshots[i]!.parent, snapshots[i - 1]!.id, 'each backup names its parent');
  });
});
