import assert from 'node:assert/strict';
import { closeSync, constants, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { bytesCopier, createFileAt, getXattr, listXattrNames, makeFifo, makeNode, removeAt, setFileTimesNs, setMmapThreshold, setTimesNs, setXattr } from './posix-extras.js';

const isRoot = process.getuid?.() === 0;

/** Asserts that `fn` throws a Node-style system error with these fields. */
function assertSystemError(fn: () => void, code: string, syscall: string, path: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof Error);
    const e = err as NodeJS.ErrnoException;
    assert.equal(e.code, code);
    assert.equal(e.errno, -(osConstants.errno as Record<string, number>)[code]!);
    assert.equal(e.syscall, syscall);
    assert.equal(e.path, path);
    assert.match(e.message, new RegExp(`^${code}: .*, ${syscall} '`));
    return true;
  });
}

describe('posix-extras', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-posix-extras-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('setTimesNs', () => {
    it('sets access and modification times to the nanosecond', () => {
      const file = join(dir, 'times');
      writeFileSync(file, 'x');
      setTimesNs(file, 1_600_000_000_123_456_789n, 1_700_000_000_987_654_321n, { noFollow: false });
      const stat = lstatSync(file, { bigint: true });
      assert.equal(stat.atimeNs, 1_600_000_000_123_456_789n);
      assert.equal(stat.mtimeNs, 1_700_000_000_987_654_321n);
    });

    it('sets times before 1970', () => {
      const file = join(dir, 'old');
      writeFileSync(file, 'x');
      setTimesNs(file, -1n, -1_500_000_000_000_000_001n, { noFollow: false });
      const stat = lstatSync(file, { bigint: true });
      assert.equal(stat.atimeNs, -1n);
      assert.equal(stat.mtimeNs, -1_500_000_000_000_000_001n);
    });

    it('sets a symbolic link’s own times without following it when noFollow is set', () => {
      const target = join(dir, 'link-target');
      const link = join(dir, 'link');
      writeFileSync(target, 'x');
      symlinkSync('link-target', link);
      setTimesNs(target, 1_000_000_000_000_000_001n, 1_000_000_000_000_000_002n, { noFollow: false });

      setTimesNs(link, 1_234_567_890_000_000_007n, 1_234_567_890_111_111_111n, { noFollow: true });

      const linkStat = lstatSync(link, { bigint: true });
      assert.ok(linkStat.isSymbolicLink());
      assert.equal(linkStat.mtimeNs, 1_234_567_890_111_111_111n);
      assert.equal(linkStat.atimeNs, 1_234_567_890_000_000_007n);
      assert.equal(lstatSync(target, { bigint: true }).mtimeNs, 1_000_000_000_000_000_002n);
    });

    it('follows a symbolic link when noFollow is not set', () => {
      const target = join(dir, 'follow-target');
      const link = join(dir, 'follow-link');
      writeFileSync(target, 'x');
      symlinkSync('follow-target', link);
      setTimesNs(link, 1_000_000_000_000_000_003n, 1_000_000_000_000_000_004n, { noFollow: false });
      assert.equal(lstatSync(target, { bigint: true }).mtimeNs, 1_000_000_000_000_000_004n);
    });

    it('throws ENOENT for a missing file', () => {
      const missing = join(dir, 'no-such-dir', 'file');
      assertSystemError(
        () => setTimesNs(missing, 0n, 0n, { noFollow: true }),
        'ENOENT',
        'utimensat',
        missing,
      );
    });
  });

  describe('calls on descriptors (createFileAt, removeAt, setFileTimesNs)', () => {
    it('creates a file in an open directory with its mode less the umask, never over an existing entry or through a symlink', () => {
      const folder = join(dir, 'at');
      mkdirSync(folder);
      const dirFd = openSync(folder, constants.O_RDONLY | constants.O_DIRECTORY);
      const odd = Buffer.from([0x6e, 0xff, 0x20, 0x78]); // not UTF-8
      try {
        const fd = createFileAt(dirFd, odd, 0o640);
        writeSync(fd, 'content');
        closeSync(fd);
        const created = Buffer.concat([Buffer.from(`${folder}/`), odd]);
        assert.equal(readFileSync(created, 'utf8'), 'content');
        assert.equal(lstatSync(created).mode & 0o777, 0o640 & ~process.umask());
        assert.throws(() => createFileAt(dirFd, odd, 0o600), (err: NodeJS.ErrnoException) => err.code === 'EEXIST' && err.syscall === 'open');
        symlinkSync('/etc/passwd', join(folder, 'link'));
        assertSystemError(() => createFileAt(dirFd, Buffer.from('link'), 0o600), 'EEXIST', 'open', 'link');
        removeAt(dirFd, Buffer.from('link'));
        assert.ok(readFileSync('/etc/passwd').length > 0, 'the symlink went, not its target');
        mkdirSync(join(folder, 'sub'));
        assertSystemError(() => removeAt(dirFd, Buffer.from('sub')), 'EISDIR', 'unlink', 'sub');
        assertSystemError(() => removeAt(dirFd, Buffer.from('gone')), 'ENOENT', 'unlink', 'gone');
      } finally {
        closeSync(dirFd);
      }
    });

    it('sets an open file\u2019s times to the nanosecond, also before 1970', () => {
      const file = join(dir, 'futimens');
      writeFileSync(file, 'x');
      const fd = openSync(file, 'r+');
      try {
        setFileTimesNs(fd, 1_600_000_000_123_456_789n, -1_500_000_000_000_000_001n);
        writeSync(fd, 'y', 0);
        setFileTimesNs(fd, 1_600_000_000_123_456_789n, 1_700_000_000_987_654_321n);
      } finally {
        closeSync(fd);
      }
      const stat = lstatSync(file, { bigint: true });
      assert.equal(stat.atimeNs, 1_600_000_000_123_456_789n);
      assert.equal(stat.mtimeNs, 1_700_000_000_987_654_321n);
      assert.throws(() => setFileTimesNs(2 ** 31 - 2, 0n, 0n), (err: NodeJS.ErrnoException) => err.code === 'EBADF' && err.syscall === 'futimens');
    });
  });

  describe('makeFifo', () => {
    it('creates a FIFO', () => {
      const fifo = join(dir, 'fifo');
      makeFifo(fifo, 0o600);
      const stat = lstatSync(fifo);
      assert.ok(stat.isFIFO());
      assert.equal(stat.mode & 0o777, 0o600);
    });

    it('throws EEXIST when the path exists', () => {
      const fifo = join(dir, 'fifo-twice');
      makeFifo(fifo, 0o600);
      assertSystemError(() => makeFifo(fifo, 0o600), 'EEXIST', 'mkfifo', fifo);
    });

    it('throws ENOENT when the directory is missing', () => {
      const fifo = join(dir, 'no-such-dir', 'fifo');
      assertSystemError(() => makeFifo(fifo, 0o600), 'ENOENT', 'mkfifo', fifo);
    });
  });

  describe('makeNode', () => {
    it('creates a socket node', () => {
      const socket = join(dir, 'socket');
      makeNode(socket, constants.S_IFSOCK | 0o600, 0n);
      assert.ok(lstatSync(socket).isSocket());
    });

    it('creates a FIFO through mknod', () => {
      const fifo = join(dir, 'fifo-by-mknod');
      makeNode(fifo, constants.S_IFIFO | 0o600, 0n);
      assert.ok(lstatSync(fifo).isFIFO());
    });

    it('creates a character device with the given rdev (as root)', { skip: !isRoot && 'needs root' }, (t) => {
      const nullRdev = statSync('/dev/null', { bigint: true }).rdev;
      const device = join(dir, 'null-device');
      try {
        makeNode(device, constants.S_IFCHR | 0o600, nullRdev);
      } catch (err) {
        // Root in a container without CAP_MKNOD: nothing this code can do about it.
        if ((err as NodeJS.ErrnoException).code === 'EPERM') {
          t.skip('root lacks CAP_MKNOD here');
          return;
        }
        throw err;
      }
      const stat = lstatSync(device, { bigint: true });
      assert.ok(stat.isCharacterDevice());
      assert.equal(stat.rdev, nullRdev);
    });

    it('throws EPERM for a device when not root', { skip: isRoot && 'runs as root' }, () => {
      const device = join(dir, 'denied-device');
      const nullRdev = statSync('/dev/null', { bigint: true }).rdev;
      assertSystemError(() => makeNode(device, constants.S_IFCHR | 0o600, nullRdev), 'EPERM', 'mknod', device);
    });

    it('throws EEXIST when the path exists', () => {
      const file = join(dir, 'existing');
      writeFileSync(file, 'x');
      assertSystemError(() => makeNode(file, constants.S_IFSOCK | 0o600, 0n), 'EEXIST', 'mknod', file);
    });
  });

  describe('Buffer paths', () => {
    it('handles a file name that is not UTF-8', () => {
      const name = Buffer.from([0x66, 0xff, 0x6f]); // "f\xffo"
      const path = Buffer.concat([Buffer.from(`${dir}/`), name]);
      makeFifo(path, 0o600);
      const names = readdirSync(dir, { encoding: 'buffer' });
      assert.ok(names.some((n) => n.equals(name)));
      assert.ok(lstatSync(path).isFIFO());

      setTimesNs(path, 5n, 1_111_111_111_222_222_222n, { noFollow: true });
      assert.equal(lstatSync(path, { bigint: true }).mtimeNs, 1_111_111_111_222_222_222n);

      assertSystemError(() => makeFifo(path, 0o600), 'EEXIST', 'mkfifo', path.toString('utf8'));
    });

    it('rejects a path containing a NUL byte', () => {
      const path = Buffer.from(`${dir}/a\0b`);
      assert.throws(() => makeFifo(path, 0o600), TypeError);
      assert.throws(() => setTimesNs(`${dir}/a\0b`, 0n, 0n, { noFollow: false }), TypeError);
    });
  });

  describe('extended attributes', () => {
    const userA = Buffer.from('user.a');
    it('sets, lists and reads attributes with any bytes, including empty values', () => {
      const file = join(dir, 'xattr-file');
      writeFileSync(file, 'x');
      assert.deepEqual(listXattrNames(file), []);
      const binary = Buffer.from([0, 1, 2, 0xff, 0]);
      setXattr(file, userA, binary);
      setXattr(file, Buffer.from('user.empty'), Buffer.alloc(0));
      const big = Buffer.alloc(3000, 7);
      setXattr(file, Buffer.from('user.big'), big);
      assert.deepEqual(listXattrNames(file).map(String).sort(), ['user.a', 'user.big', 'user.empty']);
      assert.deepEqual(getXattr(file, userA), binary);
      assert.deepEqual(getXattr(file, Buffer.from('user.empty')), Buffer.alloc(0));
      assert.deepEqual(getXattr(file, Buffer.from('user.big')), big);
      setXattr(file, userA, Buffer.from('replaced'));
      assert.equal(getXattr(file, userA).toString(), 'replaced');
    });

    it('throws ENODATA for a missing attribute and ENOENT for a missing file', () => {
      const file = join(dir, 'xattr-none');
      writeFileSync(file, 'x');
      assertSystemError(() => getXattr(file, Buffer.from('user.missing')), 'ENODATA', 'lgetxattr', file);
      assertSystemError(() => listXattrNames(join(dir, 'nothing')), 'ENOENT', 'llistxattr', join(dir, 'nothing'));
    });

    it('works on a symlink itself, never its target', { skip: !isRoot && 'trusted. attributes need root' }, () => {
      const target = join(dir, 'xattr-target');
      const link = join(dir, 'xattr-link');
      writeFileSync(target, 'x');
      symlinkSync('xattr-target', link);
      setXattr(link, Buffer.from('trusted.t'), Buffer.from('on the link'));
      assert.deepEqual(listXattrNames(link).map(String), ['trusted.t']);
      assert.deepEqual(listXattrNames(target), []);
      // user. attributes are refused on symlinks by Linux.
      assertSystemError(() => setXattr(link, userA, Buffer.from('v')), 'EPERM', 'lsetxattr', link);
    });

    it('rejects names with a NUL byte and values over 64 KiB', () => {
      const file = join(dir, 'xattr-bad');
      writeFileSync(file, 'x');
      assert.throws(() => setXattr(file, Buffer.from('user.a\0b'), Buffer.from('v')), TypeError);
      assert.throws(() => setXattr(file, userA, Buffer.alloc(65537)), RangeError);
    });
  });

  describe('setMmapThreshold', () => {
    it('fixes the threshold on glibc and refuses values outside 4 KiB to 32 MiB', () => {
      const glibc = (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime !== undefined;
      assert.equal(setMmapThreshold(1024 * 1024), glibc);
      assert.throws(() => setMmapThreshold(1024), RangeError);
      assert.throws(() => setMmapThreshold(64 * 1024 * 1024), RangeError);
    });
  });

  describe('bytesCopier', () => {
    const copy = bytesCopier();

    it('is the addon\'s memmove (its range error has a code; the fallback\'s set would not)', () => {
      assert.throws(() => copy(new Uint8Array(4), 2, new Uint8Array(3)), (err: unknown) => err instanceof RangeError && (err as NodeJS.ErrnoException).code === 'ERR_OUT_OF_RANGE');
    });

    it('copies like set into shared memory at any alignment, and within one buffer like copyWithin', () => {
      const source = randomBytes(5000);
      for (let s = 0; s < 9; s++) {
        for (let t = 0; t < 9; t++) {
          const ring = new Uint8Array(new SharedArrayBuffer(6000));
          const expected = new Uint8Array(6000);
          copy(ring, t, source.subarray(s, s + 4000 - s));
          expected.set(source.subarray(s, s + 4000 - s), t);
          assert.deepEqual(new Uint8Array(ring), expected);
        }
      }
      const both = Uint8Array.from(source);
      copy(both, 10, both.subarray(3, 2000));
      assert.deepEqual(both, Uint8Array.from(source).copyWithin(10, 3, 2000));
      copy(both, 0, new Uint8Array(0));
      copy(both, both.length, new Uint8Array(0));
    });

    it('refuses what is not a Uint8Array and offsets outside the target', () => {
      const target = new Uint8Array(10);
      assert.throws(() => copy(target, 11, new Uint8Array(0)), RangeError);
      assert.throws(() => copy(target, -1, new Uint8Array(1)), RangeError);
      assert.throws(() => copy(target, 0.5, new Uint8Array(1)), RangeError);
      assert.throws(() => copy(target, 0, new Uint16Array(1) as unknown as Uint8Array), TypeError);
      assert.throws(() => copy([] as unknown as Uint8Array, 0, new Uint8Array(1)), TypeError);
    });
  });
});
