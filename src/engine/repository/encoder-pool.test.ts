import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Id } from '../../core/ids.js';
import { MemoryStorage } from '../../storage/memory-storage.js';
import type { SaveOptions } from '../../storage/storage.js';
import { FaultyStorage } from '../../storage/testing/faulty-storage.js';
import { INSECURE_TEST_KDF } from '../crypto/key-slot.js';
import { seededBytes } from '../testing/arbitraries.js';
import { createHash } from 'node:crypto';
import { BlobCodec } from '../pack/blob-codec.js';
import { openPackHeader, type PackedBlob } from '../pack/pack-format.js';
import { DEFAULT_RING_BYTES, EncoderPool, type DataPackSink } from './encoder-pool.js';
import { Repository, type RepositoryContext } from './repository.js';

const context: RepositoryContext = { clock: { now: () => Date.UTC(2026, 11, 6) }, hostname: 'test-host', username: 'tester' };
const password = 'encoder pool test password';
const MiB = 1024 * 1024;

/** Compressible text of `length` bytes, different per seed. */
function text(seed: number, length: number): Buffer {
  const line = Buffer.from(`line ${seed} of a compressible blob, with some words repeated\n`);
  const out = Buffer.allocUnsafe(length);
  for (let at = 0; at < length; at += line.length) line.copy(out, at, 0, Math.min(line.length, length - at));
  return out;
}

describe('EncoderPool (through RepositoryWriter with workers)', () => {
  it('blobs of every size pass through the shared rings, wrap around them, and come back intact; packs recycle', async () => {
    const storage = new MemoryStorage();
    const repo = await Repository.init(storage, password, context, { kdf: INSECURE_TEST_KDF, packSize: 2 * MiB });
    const writer = repo.createWriter({ workers: 2, stallBeforeNextWorker: 0 });
    // Small and large, compressible and not; 3 MiB blobs make the 8 MiB rings wrap; 9 MiB is larger than a ring.
    const sizes = [10, 100, 5000, 70_000, 3 * MiB, 1, 3 * MiB + 17, 200_000, 3 * MiB, 9 * MiB, 64 * 1024, 3 * MiB - 5, 0, 2 * MiB];
    for (let i = 0; i < 120; i++) sizes.push(((i * 7919) % 40_000) + 1);
    for (let i = 0; i < 8; i++) sizes.push(3 * MiB + i);
    const expected: { id: Id; bytes: Buffer }[] = [];
    const source = Buffer.allocUnsafe(10 * MiB);
    try {
      for (const [i, size] of sizes.entries()) {
        const bytes = i % 2 === 0 ? seededBytes(i, size) : text(i, size);
        // The caller's buffer is reused at once (like the archiver's read buffer): the pool must have copied it.
        bytes.copy(source);
        const saved = await writer.save('data', source.subarray(0, size));
        source.fill(0xa5);
        if (saved.added) expected.push({ id: saved.id, bytes });
      }
      await writer.flush();
    } finally {
      await writer.close();
    }
    assert.ok(expected.length > 100);

    const again = await Repository.open(storage, password, context);
    await again.loadIndex();
    assert.ok(again.index.packs().size >= 8, 'many packs: their buffers went back to the workers and were reused');
    for (const { id, bytes } of expected) {
      const loaded = await again.loadBlob('data', id);
      assert.ok(loaded.equals(bytes), `blob of ${bytes.length} bytes`);
    }
  });

  // A worker waits for a saved pack's buffer before it starts its third pack (see encoder-worker), with one worker or several.
  for (const workers of [1, 2]) it(`a pack that cannot be saved fails the backup; ${workers} worker(s) waiting for room do not stall it`, { timeout: 60_000 }, async () => {
    const storage = new FaultyStorage(new MemoryStorage());
    const repo = await Repository.init(storage, password, context, { kdf: INSECURE_TEST_KDF, packSize: 2 * MiB });
    const writer = repo.createWriter({ workers, stallBeforeNextWorker: 0 });
    const failure = new Error('disk full (injected)');
    storage.addFault('save', { keyPrefix: 'data/' }).errorInstead(failure);
    try {
      // Far more than the workers may hold while their packs wait: without the failure reaching the pool,
      // saving would wait for buffers that never come back.
      await assert.rejects(async () => {
        for (let i = 0; i < 64; i++) await writer.save('data', seededBytes(1000 + i, MiB));
        await writer.flush();
      }, failure);
    } finally {
      await writer.close();
    }
    assert.ok(storage.calls.some((call) => call.fault !== undefined && call.key.startsWith('data/')));
  });

  it('while a pack waits to be saved, the others are saved and the bytes taken in stay bounded', { timeout: 60_000 }, async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const seen: { writer?: ReturnType<Repository['createWriter']> } = {};
    let held = false;
    let savedWhileHeld = 0;
    /** Holds the first pack the encoder workers hand over (fault injection: a slow disk). */
    class SlowPackStorage extends MemoryStorage {
      override async save(key: string, data: Uint8Array | AsyncIterable<Uint8Array>, options?: SaveOptions): Promise<void> {
        if (key.startsWith('data/') && seen.writer?.workerCount) {
          if (!held) {
            held = true;
            await gate;
          } else savedWhileHeld++;
        }
        return super.save(key, data, options);
      }
    }
    const storage = new SlowPackStorage();
    const repo = await Repository.init(storage, password, context, { kdf: INSECURE_TEST_KDF, packSize: 2 * MiB });
    const writer = repo.createWriter({ workers: 1 });
    seen.writer = writer;
    const blobs = Array.from({ length: 40 }, (_, i) => seededBytes(5000 + i, MiB));
    try {
      for (const blob of blobs) await writer.save('data', blob);
      assert.ok(held, 'a pack is held');
      // Saves run two at a time: the held pack keeps one buffer of the budget, the others cycle through the second.
      assert.ok(savedWhileHeld >= 10, `${savedWhileHeld} packs saved while the first was held`);
      release();
      await writer.flush();
    } finally {
      release();
      await writer.close();
    }
    const again = await Repository.open(storage, password, context);
    await again.loadIndex();
    for (const blob of blobs) assert.ok((await again.loadBlob('data', (await again.createWriter().save('data', blob)).id)).equals(blob));
  });

  it('put: workers hash the blobs to the ids the main thread gives, and store each content once', { timeout: 60_000 }, async () => {
    const storage = new MemoryStorage();
    const repo = await Repository.init(storage, password, context, { kdf: INSECURE_TEST_KDF, packSize: 2 * MiB });
    const writer = repo.createWriter({ workers: 2, stallBeforeNextWorker: 0 });
    // Repeats inside one batch and across batches and workers; 9 MiB is larger than a ring (hashed here).
    const contents = [1, 2, 3, 1, 1, 4, 2, 5, 6, 3].map((seed) => (seed % 2 === 0 ? text(seed, 300_000 + seed) : seededBytes(seed, 200_000 + seed)));
    contents.push(seededBytes(9, 9 * MiB), seededBytes(9, 9 * MiB), Buffer.alloc(0), Buffer.alloc(0));
    const source = Buffer.allocUnsafe(10 * MiB);
    const saves: Promise<{ id: Id; added: boolean }>[] = [];
    try {
      for (const bytes of contents) {
        bytes.copy(source);
        const { saved } = await writer.put('data', source.subarray(0, bytes.length));
        // Reused at once, before the id is known: the pool must have copied it.
        source.fill(0x5a);
        saves.push(saved);
      }
      const results = await Promise.all(saves);
      await writer.flush();
      const distinct = new Set(contents.map((c) => c.toString('base64')));
      assert.equal(results.filter((r) => r.added).length, distinct.size, 'each content added once');
      assert.equal(writer.stats.dataBlobs, distinct.size);
      // The same ids as hashing on the main thread (the repository format): a writer without workers knows them all.
      const plain = repo.createWriter();
      for (const [i, bytes] of contents.entries()) assert.deepEqual(await plain.save('data', bytes), { id: results[i]!.id, added: false });
      for (const [i, bytes] of contents.entries()) assert.ok((await repo.loadBlob('data', results[i]!.id)).equals(bytes));
    } finally {
      await writer.close();
    }
  });

  describe('workers start one at a time', () => {
    /** A clock that moves 100 ms at every reading: any wait for the workers counts, however short it was. */
    const steppingContext = (): RepositoryContext => {
      let now = Date.UTC(2026, 11, 6);
      return { ...context, clock: { now: () => (now += 100) } };
    };

    it('a small incremental backup (known blobs, a few MiB new) runs on one worker', { timeout: 60_000 }, async () => {
      const storage = new MemoryStorage();
      const repo = await Repository.init(storage, password, steppingContext(), { kdf: INSECURE_TEST_KDF, packSize: 2 * MiB });
      const known = Array.from({ length: 12 }, (_, i) => seededBytes(7000 + i, MiB));
      const first = repo.createWriter();
      for (const blob of known) await first.save('data', blob);
      await first.flush();

      const writer = repo.createWriter({ workers: 2 });
      try {
        // 4 MiB encoded on this thread, then 6 MiB of new blobs through the worker's 8 MiB ring: no wait.
        for (let i = 0; i < 10; i++) {
          const { saved } = await writer.put('data', text(8000 + i, MiB));
          void saved.catch(() => undefined);
        }
        assert.equal(writer.workerCount, 1);
        // Then 12 MiB read again and known: with the ring full, they are hashed here instead of waited for.
        const saves = [];
        for (const blob of known) saves.push((await writer.put('data', blob)).saved);
        assert.ok((await Promise.all(saves)).every((blob) => !blob.added));
        await writer.flush();
        assert.equal(writer.workerCount, 1, 'no second worker for a backup the first one kept up with');
      } finally {
        await writer.close();
      }
    });

    it('a large backup starts the second worker once the reads waited for the first one long enough', { timeout: 60_000 }, async () => {
      const storage = new MemoryStorage();
      const repo = await Repository.init(storage, password, steppingContext(), { kdf: INSECURE_TEST_KDF, packSize: 2 * MiB });
      const blobs = Array.from({ length: 32 }, (_, i) => (i % 2 === 0 ? seededBytes(9000 + i, MiB) : text(9000 + i, MiB)));
      const writer = repo.createWriter({ workers: 2 });
      const ids: Id[] = [];
      try {
        // 28 MiB through one 8 MiB ring: the reads wait for the worker many times (each wait counts 100 ms here).
        for (const blob of blobs) ids.push((await writer.save('data', blob)).id);
        await writer.flush();
        assert.equal(writer.workerCount, 2);
      } finally {
        await writer.close();
      }
      const again = await Repository.open(storage, password, context);
      await again.loadIndex();
      for (const [i, blob] of blobs.entries()) assert.ok((await again.loadBlob('data', ids[i]!)).equals(blob));
    });
  });
});

describe('EncoderPool: data packs written as they fill, within the rings', () => {
  const key = Buffer.alloc(32, 1);
  const setup = { encryptionKey: key, contentIdKey: Buffer.alloc(32, 2), compressionLevel: 1, packSize: 2 * MiB };
  const noStall = { stallBeforeNextWorker: 0 };

  /** A sink per worker that gathers each pack's ranges, resolving each append after `delay` (in order). */
  function gatheringSinks(delay: (bytes: Uint8Array) => number) {
    const packs: { id: Id; blobs: PackedBlob[]; length: number; bytes: Buffer; ranges: number[] }[] = [];
    const load = { now: 0, most: 0, perWorkerMost: 0 };
    const newSink = (): DataPackSink => {
      let pieces: Buffer[] = [];
      let ranges: number[] = [];
      let chain = Promise.resolve();
      let mine = 0;
      return {
        append: (bytes) => {
          load.now += bytes.length;
          mine += bytes.length;
          load.most = Math.max(load.most, load.now);
          load.perWorkerMost = Math.max(load.perWorkerMost, mine);
          ranges.push(bytes.length);
          const into = pieces;
          chain = chain.then(async () => {
            await new Promise((resolve) => setTimeout(resolve, delay(bytes)));
            // Copied only when "written": a worker that overwrote ring bytes not yet released shows in the hash.
            into.push(Buffer.from(bytes));
            load.now -= bytes.length;
            mine -= bytes.length;
          });
          return chain;
        },
        sealed: (id, blobs, length) => {
          const done = pieces;
          const sizes = ranges;
          pieces = [];
          ranges = [];
          void chain.then(() => packs.push({ id, blobs, length, bytes: Buffer.concat(done), ranges: sizes }));
        },
      };
    };
    return { packs, load, newSink };
  }

  // Small rings (64 KiB and 16 KiB of overflow) wrap every few blobs, and blobs above 16 KiB are sealed aside and copied in.
  for (const workers of [1, 2, 3]) {
    it(`${workers} worker(s): the bytes out never pass the rings, however slow the writes, and every pack is whole and named by its bytes`, { timeout: 60_000 }, async () => {
      const { packs, load, newSink } = gatheringSinks((bytes) => (bytes[0]! % 4) * 3);
      const streamRingBytes = 64 * 1024;
      const pool = new EncoderPool(workers, setup, (_pack, settle) => settle(true), newSink, () => true, { ...noStall, streamRingBytes, streamOverflowBytes: 16 * 1024 });
      const sent: Buffer[] = [];
      try {
        for (let i = 0; i < 160; i++) {
          const size = i % 10 === 0 ? 200_000 + i : 1 + ((i * 7919 * 31) % 30_000);
          const blob = i % 3 === 0 ? text(700 + i, size) : seededBytes(700 + i, size);
          sent.push(blob);
          await pool.submit('data', blob);
        }
        await pool.flush();
        await new Promise((resolve) => setTimeout(resolve, 50));
        const { ringBytes, peakUnwritten } = pool.streamStats;
        assert.equal(ringBytes, workers * streamRingBytes);
        assert.ok(peakUnwritten <= ringBytes, `${peakUnwritten} bytes out at once, rings ${ringBytes}`);
        assert.ok(load.perWorkerMost <= streamRingBytes, `${load.perWorkerMost} bytes of one worker out at once`);
      } finally {
        await pool.close();
      }
      const codec = new BlobCodec(key);
      let blobs = 0;
      for (const pack of packs) {
        assert.equal(pack.bytes.length, pack.length);
        assert.equal(createHash('sha256').update(pack.bytes).digest('hex'), pack.id, 'the name is the bytes\' SHA-256');
        assert.deepEqual(openPackHeader(key, pack.bytes), pack.blobs);
        // Every range but the last is whole blocks (written past the page cache).
        for (const size of pack.ranges.slice(0, -1)) assert.equal(size % 4096, 0);
        for (const blob of pack.blobs) {
          const plain = codec.decode(blob.type, blob.id, pack.bytes.subarray(blob.offset, blob.offset + blob.length), blob.compression, blob.rawLength);
          assert.ok(sent.some((b) => b.length === plain.length && b.equals(plain)));
          blobs++;
        }
      }
      assert.equal(blobs, 160);
    });
  }

  it('a worker\'s ring holds 4 MiB of blobs by default (ringBytes sets it); a larger blob goes around the rings', async () => {
    const pool = new EncoderPool(1, setup, (_pack, settle) => settle(true), () => ({ append: async () => undefined, sealed: () => undefined }), () => true, noStall);
    const wide = new EncoderPool(1, setup, (_pack, settle) => settle(true), () => ({ append: async () => undefined, sealed: () => undefined }), () => true, { ...noStall, ringBytes: 8 * MiB });
    try {
      assert.equal(DEFAULT_RING_BYTES, 4 * MiB);
      assert.ok(pool.fits(4 * MiB) && !pool.fits(4 * MiB + 1));
      assert.ok(wide.fits(8 * MiB) && !wide.fits(8 * MiB + 1));
      await assert.rejects(pool.submit('data', Buffer.alloc(4 * MiB + 1)), RangeError);
    } finally {
      await pool.close();
      await wide.close();
    }
  });

  it('with every write held, the workers stop encoding and the reads wait; the writes resume them', { timeout: 60_000 }, async () => {
    const held: (() => void)[] = [];
    const newSink = (): DataPackSink => {
      let chain = Promise.resolve();
      return {
        append: () => (chain = chain.then(() => new Promise<void>((resolve) => held.push(resolve)))),
        sealed: () => undefined,
      };
    };
    const pool = new EncoderPool(2, setup, (_pack, settle) => settle(true), newSink, () => true, noStall);
    try {
      let taken = 0;
      let waiting: Promise<unknown> | undefined;
      for (let i = 0; i < 64; i++) {
        const submit = pool.submit('data', seededBytes(900 + i, MiB));
        const stalled = await Promise.race([submit.then(() => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 2000))]);
        if (stalled) {
          waiting = submit;
          break;
        }
        taken++;
      }
      assert.ok(waiting !== undefined, `the reads wait (${taken} MiB taken in)`);
      // Two 4 MiB data pack rings (and their overflows) and two full 4 MiB rings.
      assert.ok(taken <= 2 * 6 + 2 * 4, `${taken} MiB taken in with every write held`);
      const drain = setInterval(() => {
        while (held.length > 0) held.shift()!();
      }, 5);
      await waiting;
      await pool.flush();
      clearInterval(drain);
    } finally {
      await pool.close();
    }
  });
});
