import assert from 'node:assert/strict';
import { closeSync, constants, lstatSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { scanDirectory } from './directory-scan.js';
import { makeFifo, setXattr } from './posix-extras.js';

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY;

describe('scanDirectory', () => {
  let dir: string;
  // Out of byte order on purpose, one name not UTF-8, one with bytes above 0x7f that UTF-8 allows.
  const names = [Buffer.from('b-file'), Buffer.from('a-dir'), Buffer.from('Z-link'), Buffer.from([0x63, 0xe9]), Buffer.from('é-fifo'), Buffer.from('x-attr')];
  const withScan = async <T>(path: string, use: (fd: number) => Promise<T>): Promise<T> => {
    const fd = openSync(path, DIR_FLAGS);
    try {
      return await use(fd);
    } finally {
      closeSync(fd);
    }
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-directory-scan-'));
    const at = (name: Buffer): Buffer => Buffer.concat([Buffer.from(`${dir}/`), name]);
    writeFileSync(at(names[0]!), 'twelve bytes');
    mkdirSync(at(names[1]!));
    symlinkSync('b-file', at(names[2]!));
    writeFileSync(at(names[3]!), '');
    makeFifo(at(names[4]!), 0o600);
    writeFileSync(at(names[5]!), 'x');
    setXattr(at(names[5]!), Buffer.from('user.ferry'), Buffer.from('v'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('lists every entry in name-byte order with the fields lstat gives', async () => {
    const entries = await withScan(dir, (fd) => scanDirectory(fd, true));
    assert.deepEqual(
      entries.map((e) => e.name),
      [...names].sort((a, b) => Buffer.compare(a, b)),
    );
    for (const entry of entries) {
      const st = lstatSync(Buffer.concat([Buffer.from(`${dir}/`), entry.name]), { bigint: true });
      const scanned = entry.st!;
      assert.ok(scanned, entry.name.toString('latin1'));
      assert.deepEqual(
        [scanned.dev, scanned.ino, scanned.mode, scanned.nlink, scanned.uid, scanned.gid, scanned.rdev, scanned.size, scanned.mtimeNs, scanned.ctimeNs],
        [st.dev, st.ino, Number(st.mode), Number(st.nlink), Number(st.uid), Number(st.gid), st.rdev, Number(st.size), st.mtimeNs, st.ctimeNs],
      );
      assert.deepEqual(
        [scanned.isFile(), scanned.isDirectory(), scanned.isSymbolicLink(), scanned.isFIFO(), scanned.isSocket(), scanned.isCharacterDevice()],
        [st.isFile(), st.isDirectory(), st.isSymbolicLink(), st.isFIFO(), st.isSocket(), st.isCharacterDevice()],
      );
    }
  });

  it('says which entries have extended attributes, only when asked', async () => {
    const withXattrs = await withScan(dir, (fd) => scanDirectory(fd, true));
    assert.deepEqual(
      withXattrs.filter((e) => e.hasXattrs).map((e) => e.name.toString()),
      ['x-attr'],
    );
    const without = await withScan(dir, (fd) => scanDirectory(fd, false));
    assert.equal(without.filter((e) => e.hasXattrs).length, 0);
  });

  it('gives nothing for an empty directory', async () => {
    assert.deepEqual(await withScan(join(dir, 'a-dir'), (fd) => scanDirectory(fd, true)), []);
  });

  it('rejects with a system error when the descriptor is not a directory', async () => {
    const fd = openSync(join(dir, 'b-file'), constants.O_RDONLY);
    try {
      await assert.rejects(scanDirectory(fd, true), (err: NodeJS.ErrnoException) => err.code === 'ENOTDIR' && err.syscall === 'scandir' && typeof err.errno === 'number');
    } finally {
      closeSync(fd);
    }
  });
});
