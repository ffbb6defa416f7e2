import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deriveDiskSubkeys, diskFileName, MANIFEST_NAME } from '../seed/disk-format.js';
import { openManifest, type DiskManifest } from '../seed/manifest.js';
import { alignedView, DIRECT_ALIGN } from '../os/direct-write.js';
import { openDiskFile, type OpenFileRequest } from './disk-file-opener.js';
import { openOnDisk } from './disk-path.js';
import { IngestFixture } from './testing/ingest-fixture.js';

describe('reading one file of a disk', () => {
  let f: IngestFixture;
  let manifest: DiskManifest;
  let request: (n: number) => OpenFileRequest;

  before(async () => {
    f = await IngestFixture.create({ data: [3000, 700] }, 100_000, ['disk-1']);
    const disk = (await f.job()).disks[0]!;
    const keys = deriveDiskSubkeys(f.prep.key(0), disk.id);
    manifest = openManifest(keys.manifestKey, await readFile(join(f.disks[0]!, MANIFEST_NAME)), disk.id);
    request = (n) => ({ disk: f.disks[0]!, diskId: disk.id, fileKey: keys.fileKey, segmentSize: manifest.segmentSize, entry: manifest.files[n]!, readBytes: 1000 });
  });
  after(() => f.cleanup());

  it('answers the plaintext of a good file, read in several runs', async () => {
    const opened = await openDiskFile(request(0));
    assert.ok(opened.ok);
    const expected = f.prep.files.find((file) => file.path === manifest.files[0]!.path)!;
    assert.deepEqual(opened.plaintext, expected.bytes);
  });

  it('reads the plaintext into the memory it is given, from its first aligned byte, when it has room, else into its own', async () => {
    const expected = f.prep.files.find((file) => file.path === manifest.files[0]!.path)!.bytes;
    const given = new SharedArrayBuffer(expected.length + DIRECT_ALIGN);
    const opened = await openDiskFile({ ...request(0), buffer: given });
    assert.ok(opened.ok);
    assert.equal(opened.plaintext.buffer, given);
    assert.equal(opened.plaintext.byteOffset, alignedView(given).byteOffset);
    assert.deepEqual(opened.plaintext, expected);
    const small = new SharedArrayBuffer(expected.length - 1);
    const own = await openDiskFile({ ...request(0), buffer: small });
    assert.ok(own.ok);
    assert.notEqual(own.plaintext.buffer, small);
    assert.deepEqual(own.plaintext, expected);
  });

  it('answers IOFailed when the disk fails a read', async () => {
    const failingRead = async (root: string, relative: string) => {
      const opened = await openOnDisk(root, relative);
      if (!opened.ok) return opened;
      const handle = opened.handle;
      let reads = 0;
      const broken = new Proxy(handle, {
        get(target, property) {
          // The header is read with read, the segments with readv: the second read of either kind fails.
          if (property === 'read' || property === 'readv') {
            const method = Reflect.get(target, property) as (...a: unknown[]) => Promise<unknown>;
            return async (...args: unknown[]) => {
              if (++reads > 1) throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
              return method.apply(target, args);
            };
          }
          const value = Reflect.get(target, property) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      return { ...opened, handle: broken };
    };
    const opened = await openDiskFile(request(0), failingRead);
    assert.equal(opened.ok, false);
    assert.equal(!opened.ok && opened.code, 'IOFailed');
    assert.match(!opened.ok ? opened.message : '', /EIO/);
  });

  it('refuses what is not a plain file inside the disk', async () => {
    const root = f.disks[0]!;
    assert.equal((await openOnDisk(root, 'files/../FERRY-DISK.json')).ok, false);
    await expectFailure(openOnDisk(root, 'files/0000/../../x'), 'PathRefused', /not a name inside the disk/);
    await expectFailure(openOnDisk(root, 'files/0000'), 'PathRefused', /not a plain file/);
    await expectFailure(openOnDisk(root, 'files/0009/00009000.fry'), 'FileNotFound', /missing/);
    await expectFailure(openOnDisk(root, `${diskFileName(0)}/deeper`), 'PathRefused', /not a folder/);
    const name = diskFileName(1);
    await rm(join(root, name));
    execFileSync('mkfifo', [join(root, name)]);
    await expectFailure(openOnDisk(root, name), 'PathRefused', /not a plain file/);
    await rm(join(root, name));
    await mkdir(join(root, name));
    await expectFailure(openOnDisk(root, name), 'PathRefused', /not a plain file/);
  });
});

async function expectFailure(outcome: ReturnType<typeof openOnDisk>, code: string, pattern: RegExp): Promise<void> {
  const result = await outcome;
  if (result.ok) {
    await result.handle.close();
    assert.fail(`expected ${code}, the file opened`);
  }
  assert.equal(result.code, code, result.message);
  assert.match(result.message, pattern);
}
