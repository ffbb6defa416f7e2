import assert from 'node:assert/strict';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { DIRECT_ALIGN, WriteHash, alignedView, allocateAligned, writeAt } from './direct-write.js';
import { optionalAddon } from './native-addon.js';
import { cachedPages, patterned, takesDirectWrites } from './testing/page-cache.js';

fc.configureGlobal({ seed: 42, numRuns: 60 });

let dir: string;
before(async () => (dir = await mkdtemp(join(tmpdir(), 'ferry-direct-'))));
after(() => rm(dir, { recursive: true, force: true }));

describe('writeAt', () => {
  it('writes exactly the bytes at the position, aligned or not, whole blocks or not', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 3 * DIRECT_ALIGN + 100 }),
        fc.constantFrom(0, 1, 17, DIRECT_ALIGN, 2 * DIRECT_ALIGN, DIRECT_ALIGN + 5),
        fc.constantFrom(0, 3, DIRECT_ALIGN),
        fc.nat(255),
        async (length, position, memoryOffset, seed) => {
          const path = join(dir, `f-${length}-${position}-${memoryOffset}`);
          const handle = await open(path, 'w+');
          try {
            const source = allocateAligned(length + memoryOffset).subarray(memoryOffset);
            patterned(length, seed).copy(source);
            await writeAt(handle, source, position);
          } finally {
            await handle.close();
          }
          const written = await readFile(path);
          assert.equal(written.length, position + length);
          assert.ok(written.subarray(0, position).equals(Buffer.alloc(position)), 'nothing before the position');
          assert.ok(written.subarray(position).equals(patterned(length, seed)));
        },
      ),
    );
  });

  it('continues after other writes of the same handle without moving its file offset', async () => {
    const path = join(dir, 'sequence');
    const handle = await open(path, 'w+');
    const first = allocateAligned(2 * DIRECT_ALIGN + 10);
    const second = allocateAligned(3 * DIRECT_ALIGN);
    patterned(first.length, 1).copy(first);
    patterned(second.length, 2).copy(second);
    try {
      await writeAt(handle, second, first.length);
      await writeAt(handle, first, 0);
      await handle.sync();
    } finally {
      await handle.close();
    }
    assert.ok((await readFile(path)).equals(Buffer.concat([patterned(first.length, 1), patterned(second.length, 2)])));
  });

  it('leaves the aligned part of a large write out of the page cache where the file system allows', async (t) => {
    if (!takesDirectWrites(dir) || cachedPages(join(dir, 'probe')) === undefined) {
      t.skip('no O_DIRECT on this file system, or no fincore: only the bytes are checked (above)');
      return;
    }
    assert.ok(optionalAddon()?.pwriteDirect, 'the native addon is built (npm ci)');
    const path = join(dir, 'pack');
    const handle = await open(path, 'w+');
    const pack = allocateAligned(64 * DIRECT_ALIGN + 123);
    patterned(pack.length, 9).copy(pack);
    try {
      await writeAt(handle, pack, 0);
    } finally {
      await handle.close();
    }
    // The tail's block goes through the page cache; the 64 whole blocks before it do not.
    assert.ok(cachedPages(path)! <= 1, `${cachedPages(path)} pages cached`);
    assert.ok((await readFile(path)).equals(patterned(pack.length, 9)));
  });

  it('rejects with the file system error, code set as node:fs does', async () => {
    const path = join(dir, 'read-only');
    await (await open(path, 'w')).close();
    const handle = await open(path, 'r');
    try {
      await assert.rejects(writeAt(handle, allocateAligned(4 * DIRECT_ALIGN), 0), (err: NodeJS.ErrnoException) => err.code === 'EBADF');
    } finally {
      await handle.close();
    }
  });
});

describe('WriteHash', () => {
  it('is the SHA-256 of the bytes written with it, in order, whatever their sizes and alignment', async () => {
    await fc.assert(
      // Up to 3 blocks and a bit (one trip to the pool each) and up to 300 KiB (hashed and written side by side).
      fc.asyncProperty(fc.array(fc.oneof(fc.integer({ min: 0, max: 3 * DIRECT_ALIGN + 100 }), fc.integer({ min: 64 * 1024, max: 300 * 1024 })), { maxLength: 5 }), fc.nat(255), async (lengths, seed) => {
        const path = join(dir, `hashed-${lengths.join('-')}-${seed}`);
        const handle = await open(path, 'w+');
        const hash = new WriteHash();
        const parts = lengths.map((length, i) => {
          const part = allocateAligned(length + (i % 2)).subarray(i % 2);
          patterned(length, seed + i).copy(part);
          return part;
        });
        try {
          let position = 0;
          for (const part of parts) {
            await writeAt(handle, part, position, hash);
            position += part.length;
          }
        } finally {
          await handle.close();
        }
        const whole = Buffer.concat(parts);
        assert.ok((await readFile(path)).equals(whole));
        assert.equal(hash.digestHex(), createHash('sha256').update(whole).digest('hex'));
      }),
    );
  });

  it("hashes on the addon's thread pool in order, beside the write, when the addon has sha256Update", async () => {
    const addon = optionalAddon();
    assert.ok(addon?.sha256New && addon.sha256Update && addon.sha256Digest, 'the native addon is built with sha256Update (npm ci)');
    const hash = addon.sha256New();
    const parts = [patterned(100_000, 1), patterned(0, 2), patterned(1 << 20, 3), patterned(5, 4)];
    for (const part of parts) await addon.sha256Update(hash, part);
    assert.equal(addon.sha256Digest(hash).toString('hex'), createHash('sha256').update(Buffer.concat(parts)).digest('hex'));
    await assert.rejects(async () => addon.sha256Update!({} as never, parts[0]!), TypeError);
  });

  it("reports the write's error when hashing and writing side by side", async () => {
    const path = join(dir, 'read-only-hashed');
    await (await open(path, 'w')).close();
    const handle = await open(path, 'r');
    try {
      await assert.rejects(writeAt(handle, allocateAligned(256 * 1024), 0, new WriteHash()), (err: NodeJS.ErrnoException) => err.code === 'EBADF');
    } finally {
      await handle.close();
    }
  });

  it("hashes in the addon's write jobs, off the calling thread, when the addon has them", () => {
    assert.ok(optionalAddon()?.sha256New, 'the native addon is built (npm ci)');
    const hash = new WriteHash();
    assert.notEqual(hash.native, undefined);
    assert.equal(hash.js, undefined);
    assert.equal(hash.digestHex(), createHash('sha256').digest('hex'), 'nothing written: the empty digest');
  });
});

describe('allocateAligned and alignedView', () => {
  it('start on a block boundary, also after the buffer went to another thread and back', async () => {
    const addon = optionalAddon();
    assert.ok(addon?.alignmentOf, 'the native addon is built (npm ci)');
    for (const bytes of [1, 4096, 65_536, 17 * 1024 * 1024]) {
      const buffer = allocateAligned(bytes);
      assert.equal(buffer.length, bytes);
      assert.equal(addon.alignmentOf(buffer), 0);
      const { port1, port2 } = new MessageChannel();
      const back = new Promise<ArrayBuffer>((resolve) => port2.once('message', resolve));
      port1.postMessage(buffer.buffer, [buffer.buffer as ArrayBuffer]);
      const view = alignedView(await back);
      port1.close();
      assert.equal(addon.alignmentOf(view), 0);
      assert.ok(view.length >= bytes);
    }
  });
});
