import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { idFromBytes, type Id } from '../../core/ids.js';
import { BlobCodec } from '../pack/blob-codec.js';
import type { BlobWrite } from './file-writer-protocol.js';
import { FileWriters, type Run } from './file-writers.js';

const key = randomBytes(32);
const codec = new BlobCodec(key);
const dir = mkdtempSync(join(tmpdir(), 'ferry-file-writers-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** An in-memory pack of sealed blobs, and a reader of it that counts its reads. */
class FakePack {
  readonly id: Id = idFromBytes(randomBytes(32));
  private bytes = Buffer.alloc(0);
  reads = 0;
  damaged = false;

  add(plaintext: Buffer): { run: (position: number) => Run; blob: BlobWrite } {
    const id = idFromBytes(randomBytes(32));
    const encoded = codec.encode('data', id, plaintext);
    const offset = this.bytes.length;
    this.bytes = Buffer.concat([this.bytes, encoded.sealed]);
    const blob: BlobWrite = { type: 'data', id, compression: encoded.compression, rawLength: plaintext.length, at: 0, length: encoded.sealed.length, position: 0 };
    return { blob, run: (position) => ({ packId: this.id, offset, length: blob.length, blobs: [{ ...blob, position }] }) };
  }

  read = async (packId: Id, offset: number, length: number, target: Buffer): Promise<void> => {
    this.reads++;
    await Promise.resolve();
    if (this.damaged) throw new Error('pack cannot be read');
    assert.equal(packId, this.id);
    this.bytes.copy(target, 0, offset, offset + length);
  };

  /** Flips a byte inside the blob that starts at `offset`. */
  corrupt(offset: number): void {
    this.bytes[offset + 20]! ^= 1;
  }
}

/** Write-behind rings small enough that the tests' large blobs fill them (0: every write synchronous). */
const RING = 512 * 1024;

for (const [workers, writeBehind, createOnMain] of [
  [0, 0, false],
  [1, 0, false],
  [0, RING, false],
  [1, RING, false],
  [1, 0, true],
  [1, RING, true],
] as const) {
  describe(`FileWriters with ${workers} worker threads, write-behind ${writeBehind} bytes, files created by the ${createOnMain ? 'main thread' : 'writers'}`, () => {
    it('writes files whose blobs follow each other in a pack with one read, and reports each file', async () => {
      const pack = new FakePack();
      const writers = new FileWriters({ encryptionKey: key, writeBehind, createOnMain }, workers, pack.read);
      try {
        const contents = [Buffer.from('first file, compressible '.repeat(400)), randomBytes(5000), Buffer.from('third')];
        const parts = contents.map((content) => pack.add(content));
        const paths = contents.map((_, i) => Buffer.from(join(dir, `adjacent-${workers}-${writeBehind}-${createOnMain}-${i}`)));
        const files = paths.map((path) => writers.open(path, 0o640));
        // Created at once by the main thread, or by a writer once the batch goes out.
        assert.equal(existsSync(paths[0]!), createOnMain);
        await Promise.all(files.map((file, i) => writers.write(file, parts[i]!.run(0))));
        const replies = await Promise.all(files.map((file, i) => writers.finish(file, { abort: false, size: contents[i]!.length, mtimeNs: 1_000_000_123n })));
        assert.deepEqual(replies.map((r) => r.error), [undefined, undefined, undefined]);
        assert.equal(pack.reads, 1, 'three adjacent runs, one read');
        paths.forEach((path, i) => {
          assert.ok(readFileSync(path).equals(contents[i]!));
          const st = statSync(path, { bigint: true });
          assert.equal(st.mtimeNs, 1_000_000_123n);
        });
      } finally {
        await writers.close();
      }
    });

    it('leaves holes for zero blocks and extends a file that ends in one', async () => {
      const pack = new FakePack();
      const writers = new FileWriters({ encryptionKey: key, writeBehind, createOnMain }, workers, pack.read);
      try {
        const data = Buffer.concat([randomBytes(4096), Buffer.alloc(1 << 20)]);
        const part = pack.add(data);
        const path = Buffer.from(join(dir, `sparse-${workers}-${writeBehind}-${createOnMain}`));
        const file = writers.open(path, 0o600);
        await writers.write(file, part.run(0));
        const reply = await writers.finish(file, { abort: false, size: data.length });
        assert.equal(reply.error, undefined);
        assert.ok(readFileSync(path).equals(data));
        assert.ok(statSync(path).blocks * 512 < 256 * 1024, 'the zero megabyte is a hole');
      } finally {
        await writers.close();
      }
    });

    it('names a blob that fails authentication, and a directory in the way', async () => {
      const pack = new FakePack();
      const writers = new FileWriters({ encryptionKey: key, writeBehind, createOnMain }, workers, pack.read);
      try {
        const part = pack.add(randomBytes(3000));
        pack.corrupt(0);
        const file = writers.open(Buffer.from(join(dir, `damaged-${workers}-${writeBehind}-${createOnMain}`)), 0o600);
        await writers.write(file, part.run(0));
        const reply = await writers.finish(file, { abort: false, size: 3000 });
        assert.equal(reply.error?.damagedBlob, part.blob.id);

        const inTheWay = join(dir, `in-the-way-${workers}-${writeBehind}-${createOnMain}`);
        mkdirSync(inTheWay);
        const blocked = writers.open(Buffer.from(inTheWay), 0o600);
        assert.equal((await writers.finish(blocked, { abort: true, size: 0 })).error?.inTheWay, true);

        const replaced = join(dir, `replaced-${workers}-${writeBehind}-${createOnMain}`);
        writeFileSync(replaced, 'old content that is longer');
        const other = pack.add(Buffer.from('new'));
        const again = writers.open(Buffer.from(replaced), 0o600);
        await writers.write(again, other.run(0));
        assert.equal((await writers.finish(again, { abort: false, size: 3 })).error, undefined);
        assert.equal(readFileSync(replaced, 'utf8'), 'new');
      } finally {
        await writers.close();
      }
    });

    it('serves buffers in order, so a later batch never holds the room an earlier one waits for', { timeout: 20_000 }, async () => {
      const pack = new FakePack();
      const writers = new FileWriters({ encryptionKey: key, writeBehind, createOnMain }, workers, pack.read, 1024 * 1024);
      try {
        // Three batches, one per turn: 512 KiB out, then one that needs the whole budget, then a small one.
        const sizes = [300_000, 700_000, 100_000];
        const parts = sizes.map((size) => pack.add(randomBytes(size)));
        const files = sizes.map((_, i) => writers.open(Buffer.from(join(dir, `order-${workers}-${writeBehind}-${createOnMain}-${i}`)), 0o600));
        const writes: Promise<void>[] = [];
        for (const [i, file] of files.entries()) {
          // Far apart in the pack order they are not: reverse it, so no read merges two of them.
          writes.push(writers.write(file, parts[sizes.length - 1 - i]!.run(0)));
          await new Promise((resolve) => setImmediate(resolve));
        }
        await Promise.all(writes);
        const replies = await Promise.all(files.map((file, i) => writers.finish(file, { abort: false, size: sizes[sizes.length - 1 - i]! })));
        assert.ok(replies.every((r) => r.error === undefined));
      } finally {
        await writers.close();
      }
    });

    it('writes files of many large blobs, with holes, complete and with their times once each is finished', async () => {
      const pack = new FakePack();
      const writers = new FileWriters({ encryptionKey: key, writeBehind, createOnMain }, workers, pack.read);
      try {
        // Blobs of 150–300 KiB (written behind when a ring is set up: more than the ring holds at once),
        // some with a zero stretch inside, the last file ending in zeros (a trailing hole).
        const blob = (i: number, size: number): Buffer => {
          const bytes = randomBytes(size);
          if (i % 3 === 1) bytes.fill(0, 8192, size - 8192);
          return bytes;
        };
        const files = Array.from({ length: 4 }, (_, f) => {
          const blobs = Array.from({ length: 5 }, (_, b) => blob(f + b, 150_000 + 30_000 * b));
          if (f === 3) blobs.push(Buffer.alloc(200_000));
          const content = Buffer.concat(blobs);
          const path = Buffer.from(join(dir, `large-${workers}-${writeBehind}-${createOnMain}-${f}`));
          return { blobs: blobs.map((bytes) => pack.add(bytes)), sizes: blobs.map((bytes) => bytes.length), content, path };
        });
        const mtimeNs = 1_234_567_890_123_456_789n;
        const replies = await Promise.all(
          files.map(async ({ blobs, sizes, content, path }) => {
            // Queued in one turn: the completion goes in the same batch as the writes, while they run behind.
            const file = writers.open(path, 0o600);
            let position = 0;
            const writes = blobs.map((part, b) => {
              const run = part.run(position);
              position += sizes[b]!;
              return writers.write(file, run);
            });
            const finished = writers.finish(file, { abort: false, size: content.length, mtimeNs });
            await Promise.all(writes);
            return finished;
          }),
        );
        for (const [f, { content, path }] of files.entries()) {
          assert.equal(replies[f]!.error, undefined);
          assert.ok(readFileSync(path).equals(content), `content of file ${f}`);
          // A write landing after the times were set would have moved the mtime to now.
          assert.equal(statSync(path, { bigint: true }).mtimeNs, mtimeNs);
        }
        assert.ok(statSync(files[3]!.path).blocks * 512 < files[3]!.content.length - 300_000, 'zero stretches are holes');
      } finally {
        await writers.close();
      }
    });

    it('reports a damaged large blob, and the files around it are written', async () => {
      const pack = new FakePack();
      const writers = new FileWriters({ encryptionKey: key, writeBehind, createOnMain }, workers, pack.read);
      try {
        const contents = [randomBytes(400_000), randomBytes(300_000), randomBytes(350_000)];
        const parts = contents.map((content) => pack.add(content));
        pack.corrupt(parts[1]!.run(0).offset);
        const paths = contents.map((_, i) => Buffer.from(join(dir, `large-damaged-${workers}-${writeBehind}-${createOnMain}-${i}`)));
        const files = paths.map((path) => writers.open(path, 0o600));
        await Promise.all(files.map((file, i) => writers.write(file, parts[i]!.run(0))));
        const replies = await Promise.all(files.map((file, i) => writers.finish(file, { abort: i === 1, size: contents[i]!.length })));
        assert.equal(replies[0]!.error, undefined);
        assert.equal(replies[1]!.error?.damagedBlob, parts[1]!.blob.id);
        assert.equal(replies[2]!.error, undefined);
        assert.ok(readFileSync(paths[0]!).equals(contents[0]!));
        assert.ok(readFileSync(paths[2]!).equals(contents[2]!));
      } finally {
        await writers.close();
      }
    });

    it('rejects the writes of an unreadable pack, and keeps within its buffer budget', async () => {
      const pack = new FakePack();
      const budget = 2 * 1024 * 1024;
      const writers = new FileWriters({ encryptionKey: key, writeBehind, createOnMain }, workers, pack.read, budget);
      try {
        const parts = Array.from({ length: 12 }, () => pack.add(randomBytes(300_000)));
        // Not adjacent in the order written: every other blob, so no read merges them all.
        const order = [...parts.keys()].filter((i) => i % 2 === 0).concat([...parts.keys()].filter((i) => i % 2 === 1));
        const files = order.map((i) => ({ i, file: writers.open(Buffer.from(join(dir, `budget-${workers}-${writeBehind}-${createOnMain}-${i}`)), 0o600) }));
        await Promise.all(files.map(({ i, file }) => writers.write(file, parts[i]!.run(0))));
        const replies = await Promise.all(files.map(({ file }) => writers.finish(file, { abort: false, size: 300_000 })));
        assert.ok(replies.every((r) => r.error === undefined));
        assert.ok(pack.reads > 1, 'the budget splits the work into several batches');

        pack.damaged = true;
        const part = pack.add(randomBytes(100));
        const file = writers.open(Buffer.from(join(dir, `unreadable-${workers}-${writeBehind}-${createOnMain}`)), 0o600);
        await assert.rejects(writers.write(file, part.run(0)), /pack cannot be read/);
        assert.equal((await writers.finish(file, { abort: true, size: 0 })).error, undefined);
      } finally {
        await writers.close();
      }
    });
  });
}

for (const createOnMain of [false, true]) describe(`FileWriters creating files inside an open directory (openat on its descriptor), on the ${createOnMain ? 'main thread' : 'writer'}`, () => {
  it('creates, replaces a file or symlink in the way (never following it), refuses a directory, and sets times on the open file', async () => {
    const pack = new FakePack();
    const writers = new FileWriters({ encryptionKey: key, createOnMain }, 1, pack.read);
    const folder = join(dir, `at-folder-${createOnMain}`);
    mkdirSync(folder);
    const dirFd = openSync(folder, constants.O_RDONLY | constants.O_DIRECTORY);
    const bait = join(dir, `bait-${createOnMain}`);
    writeFileSync(bait, 'must stay');
    try {
      writeFileSync(join(folder, 'file-in-the-way'), 'old content that is longer');
      symlinkSync(bait, join(folder, 'symlink-in-the-way'));
      mkdirSync(join(folder, 'dir-in-the-way'));
      const names = ['fresh', 'file-in-the-way', 'symlink-in-the-way'];
      const contents = names.map((name) => Buffer.from(`content of ${name}`));
      const parts = contents.map((content) => pack.add(content));
      // The path is what a writer would use without the descriptor: here one that does not exist, so only `at` can work.
      const files = names.map((name) => writers.open(Buffer.from(join(dir, 'no-such-folder', name)), 0o640, { dirFd, name: Buffer.from(name) }));
      await Promise.all(files.map((file, i) => writers.write(file, parts[i]!.run(0))));
      const replies = await Promise.all(files.map((file, i) => writers.finish(file, { abort: false, size: contents[i]!.length, mtimeNs: -1_000_000_007n })));
      assert.deepEqual(replies.map((r) => [r.error, r.timesError]), names.map(() => [undefined, undefined]));
      names.forEach((name, i) => {
        const path = join(folder, name);
        assert.ok(readFileSync(path).equals(contents[i]!));
        const st = statSync(path, { bigint: true });
        assert.ok(st.isFile());
        assert.equal(st.mtimeNs, -1_000_000_007n);
      });
      assert.equal(readFileSync(bait, 'utf8'), 'must stay');
      const blocked = writers.open(Buffer.from(join(folder, 'dir-in-the-way')), 0o600, { dirFd, name: Buffer.from('dir-in-the-way') });
      assert.equal((await writers.finish(blocked, { abort: true, size: 0 })).error?.inTheWay, true);
      assert.ok(statSync(join(folder, 'dir-in-the-way')).isDirectory());
    } finally {
      closeSync(dirFd);
      await writers.close();
    }
  });
});

describe('FileWriters whose threads start after some bytes', () => {
  it('writes alone until the bytes are queued, then starts the threads; files opened before finish on the calling thread', async () => {
    const pack = new FakePack();
    const contents = [randomBytes(3000), randomBytes(3000), randomBytes(3000), randomBytes(3000)];
    const parts = contents.map((content) => pack.add(content));
    const startAfter = parts[0]!.blob.length + parts[1]!.blob.length;
    const writers = new FileWriters({ encryptionKey: key }, 1, pack.read, undefined, startAfter);
    try {
      const paths = contents.map((_, i) => Buffer.from(join(dir, `deferred-${i}`)));
      const first = writers.open(paths[0]!, 0o600);
      await writers.write(first, parts[0]!.run(0));
      assert.equal(writers.threaded, false, 'below the threshold the calling thread writes');
      const second = writers.open(paths[1]!, 0o600);
      const secondWritten = writers.write(second, parts[1]!.run(0));
      assert.equal(writers.threaded, true, 'the threshold reached starts the threads');
      const later = [2, 3].map((i) => writers.open(paths[i]!, 0o600));
      await Promise.all([secondWritten, ...later.map((file, i) => writers.write(file, parts[i + 2]!.run(0)))]);
      const files = [first, second, ...later];
      const replies = await Promise.all(files.map((file, i) => writers.finish(file, { abort: false, size: contents[i]!.length })));
      assert.deepEqual(replies.map((r) => r.error), [undefined, undefined, undefined, undefined]);
      paths.forEach((path, i) => assert.ok(readFileSync(path).equals(contents[i]!), `file ${i}`));
      assert.notEqual(files[2]!.lane, first.lane, 'files opened after the start go to the threads');
    } finally {
      await writers.close();
    }
  });

  it('never starts them for a restore smaller than the threshold', async () => {
    const pack = new FakePack();
    const content = randomBytes(10_000);
    const part = pack.add(content);
    const writers = new FileWriters({ encryptionKey: key }, 2, pack.read, undefined, 4 * 1024 * 1024);
    try {
      const path = Buffer.from(join(dir, 'small-alone'));
      const file = writers.open(path, 0o600);
      await writers.write(file, part.run(0));
      assert.equal((await writers.finish(file, { abort: false, size: content.length })).error, undefined);
      assert.ok(readFileSync(path).equals(content));
      assert.equal(writers.threaded, false);
    } finally {
      await writers.close();
    }
  });
});
