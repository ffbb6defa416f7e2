import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AlreadyExistsError, IntegrityError, NotFoundError, PermanentError } from '../../core/errors.js';
import type { Storage } from '../storage.js';

/** A fresh, empty storage for one test, and how to dispose of whatever it left behind. */
export interface StorageFixture {
  readonly storage: Storage;
  cleanup(): Promise<void>;
}

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce. */
export function seededBytes(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Every key listed under `prefix`, sorted; a key listed twice appears twice. */
export async function listKeys(storage: Storage, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  await storage.list(prefix, (info) => void keys.push(info.key));
  return keys.sort();
}

/**
 * The same storage without its optional methods (`loadInto`, `removeInterruptedSaves`): what a back end
 * that lacks them looks like, for testing that wrappers have them exactly when what they wrap does.
 */
export function withoutOptionalMethods(storage: Storage): Storage {
  return {
    properties: storage.properties,
    save: (key, data, options) => storage.save(key, data, options),
    begin: (folder) => storage.begin(folder),
    load: (key, range) => storage.load(key, range),
    stat: (key) => storage.stat(key),
    list: (prefix, onObject) => storage.list(prefix, onObject),
    remove: (key) => storage.remove(key),
    close: () => storage.close(),
  };
}

async function* pieces(data: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

async function* failingAfter(data: Buffer, error: Error): AsyncGenerator<Uint8Array> {
  yield data;
  throw error;
}

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');
const isA = (type: new (...args: never[]) => Error) => (err: unknown) => err instanceof type;

const INVALID_KEYS = [
  '../x', 'foo/../../baz', '/abs', 'a//b', 'a/', '.', '..', '', 'a b', 'a\0b', 'x'.repeat(2000),
  `data/${'x'.repeat(256)}`, 'x'.repeat(256), 'caf\u00e9', 'a/\u2024\u2024/b', 'locks/.tmp-0123456789abcdef', '.tmp-x/y',
];
/**
 * A key in a pack's folder that does not claim a SHA-256: several tests store arbitrary and changing bytes
 * under it, and a storage may verify keys of the repository layout (64 hex digits) against their bytes, as
 * the vault API does (docs/service-http-storage.md).
 */
const PACK = 'data/ab/object-under-test';

/**
 * Registers (with node:test) the tests every Storage back end must pass. `makeStorage` is called once per
 * test and must return an empty storage; the suite closes it and calls `cleanup` afterwards.
 * Tests of one suite run one after the other, but a test may run many operations concurrently.
 */
export function runStorageConformance(name: string, makeStorage: () => Promise<StorageFixture>): void {
  const test = (title: string, body: (storage: Storage, t: TestContext) => Promise<void>): void => {
    it(title, async (t) => {
      const fixture = await makeStorage();
      try {
        await body(fixture.storage, t);
      } finally {
        await fixture.storage.close();
        await fixture.cleanup();
      }
    });
  };

  /** The key must be absent and nothing at all listed: a failed save left no trace. */
  const assertNothingStored = async (storage: Storage, key: string): Promise<void> => {
    await assert.rejects(storage.load(key), isA(NotFoundError));
    assert.deepEqual(await listKeys(storage, ''), []);
  };

  describe(`Storage conformance: ${name}`, () => {
    test('has a location', async (storage) => {
      assert.ok(storage.properties.location.length > 0);
    });

    for (const size of [0, 1, 5 * 1024 * 1024]) {
      test(`saves and loads ${size} bytes`, async (storage) => {
        const data = seededBytes(size, size + 1);
        await storage.save(PACK, data);
        assert.ok((await storage.load(PACK)).equals(data));
        assert.deepEqual(await storage.stat(PACK), { key: PACK, size });
      });
    }

    test('loads ranges: start, middle, end, empty', async (storage) => {
      const data = seededBytes(1000);
      await storage.save('index/i', data);
      for (const [offset, length] of [[0, 10], [400, 123], [990, 10], [0, 1000], [500, 0], [1000, 0]] as const) {
        const part = await storage.load('index/i', { offset, length });
        assert.ok(part.equals(data.subarray(offset, offset + length)), `range ${offset}+${length}`);
      }
    });

    test('a range past the end is an IntegrityError', async (storage) => {
      await storage.save('index/i', seededBytes(100));
      for (const [offset, length] of [[95, 10], [0, 101], [101, 0], [200, 5]] as const) {
        await assert.rejects(storage.load('index/i', { offset, length }), isA(IntegrityError), `${offset}+${length}`);
      }
      await assert.rejects(storage.load('index/i', { offset: -1, length: 5 }), isA(PermanentError));
    });

    test('loadInto, where a back end has it, reads what load reads into the given buffer and fails as load does', async (storage, t) => {
      // Reported as skipped, not passed: a back end that should have it and lost it shows in the test output.
      if (storage.loadInto === undefined) return t.skip(`${name} has no loadInto (callers fall back to load)`);
      const data = seededBytes(1000);
      await storage.save('index/i', data);
      const target = Buffer.alloc(1200, 0xee);
      for (const [offset, length] of [[0, 10], [400, 123], [0, 1000], [1000, 0]] as const) {
        await storage.loadInto('index/i', { offset, length }, target);
        assert.ok(target.subarray(0, length).equals(data.subarray(offset, offset + length)), `range ${offset}+${length}`);
      }
      assert.equal(target[1000], 0xee, 'nothing written past the range');
      await assert.rejects(storage.loadInto('index/i', { offset: 995, length: 10 }, target), isA(IntegrityError));
      await assert.rejects(storage.loadInto('index/i', { offset: 1001, length: 0 }, target), isA(IntegrityError));
      await assert.rejects(storage.loadInto('index/i', { offset: -1, length: 5 }, target), isA(PermanentError));
      await assert.rejects(storage.loadInto('index/i', { offset: 0, length: 2 ** 40 }, target), RangeError);
      await assert.rejects(storage.loadInto('snapshots/nope', { offset: 0, length: 1 }, target), isA(NotFoundError));
    });

    test('a huge range fails as past the end, without allocating it (the process survives)', async (storage) => {
      await storage.save('index/i', seededBytes(100));
      const huge = [
        [0, 2 ** 31 - 1],
        [0, 2 ** 32 + 5],
        [50, 2 ** 40],
        [0, Number.MAX_SAFE_INTEGER],
        [Number.MAX_SAFE_INTEGER, 1],
        [2 ** 31, 2 ** 31],
      ] as const;
      for (const [offset, length] of huge) {
        await assert.rejects(storage.load('index/i', { offset, length }), isA(IntegrityError), `${offset}+${length}`);
      }
      await assert.rejects(storage.load('index/i', { offset: 0, length: 2 ** 53 }), isA(PermanentError), 'beyond safe integers');
      assert.ok((await storage.load('index/i')).equals(seededBytes(100)), 'the object is whole');
    });

    test('a missing object is a NotFoundError', async (storage) => {
      await assert.rejects(storage.load('snapshots/nope'), isA(NotFoundError));
      await assert.rejects(storage.load('snapshots/nope', { offset: 0, length: 1 }), isA(NotFoundError));
      await assert.rejects(storage.stat('snapshots/nope'), isA(NotFoundError));
    });

    test('save replaces an existing object', async (storage) => {
      await storage.save('config', seededBytes(500, 1));
      await storage.save('config', seededBytes(20, 2));
      assert.ok((await storage.load('config')).equals(seededBytes(20, 2)));
      assert.equal((await storage.stat('config')).size, 20);
    });

    test('copies: changing a saved or loaded buffer does not change the object', async (storage) => {
      const data = seededBytes(64);
      await storage.save('keys/k', data);
      data.fill(0);
      (await storage.load('keys/k')).fill(0);
      assert.ok((await storage.load('keys/k')).equals(seededBytes(64)));
    });

    test('lists by prefix, every object once, with sizes', async (storage) => {
      const keys = ['config', 'data/ab/ab1', 'data/ab/ab2', 'data/cd/cd1', 'index/i1', 'snapshots/s1'];
      for (const [i, key] of keys.entries()) await storage.save(key, seededBytes(i, i + 1));
      assert.deepEqual(await listKeys(storage, ''), keys);
      assert.deepEqual(await listKeys(storage, 'data/'), ['data/ab/ab1', 'data/ab/ab2', 'data/cd/cd1']);
      assert.deepEqual(await listKeys(storage, 'data/ab/'), ['data/ab/ab1', 'data/ab/ab2']);
      assert.deepEqual(await listKeys(storage, 'data/c'), ['data/cd/cd1']);
      assert.deepEqual(await listKeys(storage, 'snapshots/'), ['snapshots/s1']);
      assert.deepEqual(await listKeys(storage, 'locks/'), []);
      const sizes: Record<string, number> = {};
      await storage.list('', (info) => void (sizes[info.key] = info.size));
      assert.deepEqual(sizes, Object.fromEntries(keys.map((key, i) => [key, i])));
      await assert.rejects(storage.list('../', () => undefined), isA(PermanentError));
    });

    test('does not list the temporary state of a save in progress', async (storage) => {
      await storage.save('data/ab/old', seededBytes(10));
      let release = (): void => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let started = (): void => undefined;
      const halfway = new Promise<void>((resolve) => (started = resolve));
      const slow = async function* (): AsyncGenerator<Uint8Array> {
        yield seededBytes(1000, 1);
        started();
        await gate;
        yield seededBytes(1000, 2);
      };
      const saving = storage.save('data/ab/new', slow());
      await halfway;
      assert.deepEqual(await listKeys(storage, ''), ['data/ab/old']);
      assert.deepEqual(await listKeys(storage, 'data/ab/'), ['data/ab/old']);
      await assert.rejects(storage.stat('data/ab/new'), isA(NotFoundError));
      release();
      await saving;
      assert.deepEqual(await listKeys(storage, ''), ['data/ab/new', 'data/ab/old']);
    });

    test('a throwing list callback stops the listing and rejects with its error', async (storage) => {
      for (const key of ['data/ab/1', 'data/ab/2', 'data/cd/3', 'index/4']) await storage.save(key, seededBytes(3));
      for (const callback of ['throws', 'rejects'] as const) {
        const boom = new Error(`callback ${callback}`);
        let calls = 0;
        const listing = storage.list('', async () => {
          calls++;
          if (callback === 'throws') throw boom;
          await Promise.reject(boom);
        });
        await assert.rejects(listing, (err) => err === boom);
        assert.equal(calls, 1);
      }
    });

    test('remove deletes, and removing twice or removing the absent is fine', async (storage) => {
      await storage.save('locks/l', seededBytes(5));
      await storage.remove('locks/l');
      await assert.rejects(storage.load('locks/l'), isA(NotFoundError));
      await assert.rejects(storage.stat('locks/l'), isA(NotFoundError));
      await storage.remove('locks/l');
      await storage.remove('locks/never');
      assert.deepEqual(await listKeys(storage, ''), []);
    });

    test('saves from an async iterable of many small pieces', async (storage) => {
      const data = seededBytes(50_000);
      await storage.save(PACK, pieces(data, 17));
      assert.ok((await storage.load(PACK)).equals(data));
      await storage.save('index/i', pieces(data, 999), { length: data.length, sha256: sha256(data) });
      assert.ok((await storage.load('index/i')).equals(data));
    });

    test('a source that throws stores nothing and its error is rethrown', async (storage) => {
      const boom = new Error('source failed');
      await assert.rejects(storage.save(PACK, failingAfter(seededBytes(4096), boom)), (err) => err === boom);
      await assertNothingStored(storage, PACK);
      await storage.save(PACK, seededBytes(10, 7));
      await assert.rejects(storage.save(PACK, failingAfter(seededBytes(4096), boom)), (err) => err === boom);
      assert.ok((await storage.load(PACK)).equals(seededBytes(10, 7)), 'the previous object survives');
    });

    for (const [what, length] of [['short', 101], ['long', 99]] as const) {
      test(`a ${what} source for options.length is an IntegrityError and stores nothing`, async (storage) => {
        const data = seededBytes(100);
        await assert.rejects(storage.save(PACK, data, { length }), isA(IntegrityError));
        await assertNothingStored(storage, PACK);
        await assert.rejects(storage.save(PACK, pieces(data, 7), { length }), isA(IntegrityError));
        await assertNothingStored(storage, PACK);
      });
    }

    test('a sha256 mismatch is an IntegrityError and stores nothing; a match stores', async (storage) => {
      const data = seededBytes(3000);
      const wrong = sha256(seededBytes(3000, 2));
      await assert.rejects(storage.save(PACK, data, { sha256: wrong }), isA(IntegrityError));
      await assert.rejects(storage.save(PACK, pieces(data, 100), { sha256: wrong }), isA(IntegrityError));
      await assertNothingStored(storage, PACK);
      await storage.save(PACK, data, { sha256: sha256(data), length: data.length });
      assert.ok((await storage.load(PACK)).equals(data));
    });

    test('invalid keys are a PermanentError on save, load, stat and remove', async (storage) => {
      for (const key of INVALID_KEYS) {
        const label = JSON.stringify(key.slice(0, 20));
        await assert.rejects(storage.save(key, seededBytes(4)), isA(PermanentError), `save ${label}`);
        await assert.rejects(storage.load(key), isA(PermanentError), `load ${label}`);
        await assert.rejects(storage.stat(key), isA(PermanentError), `stat ${label}`);
        await assert.rejects(storage.remove(key), isA(PermanentError), `remove ${label}`);
      }
      assert.deepEqual(await listKeys(storage, ''), []);
    });

    test('the longest valid key works', async (storage) => {
      const key = ['a', 'b', 'c', 'd', 'e'].map((c) => c.repeat(200)).join('/') + '/' + 'f'.repeat(19);
      assert.equal(key.length, 1024);
      await storage.save(key, seededBytes(8));
      assert.deepEqual(await listKeys(storage, ''), [key]);
    });

    test('every key the rules allow is storable: 255-character segments, a 1024-character key of few segments', async (storage) => {
      const keys = [
        'x'.repeat(255),
        `data/${'y'.repeat(255)}`,
        `${'a'.repeat(255)}/${'b'.repeat(255)}/${'c'.repeat(255)}/${'d'.repeat(255)}`,
        `locks/${'z'.repeat(250)}/${'w'.repeat(255)}/${'v'.repeat(255)}/${'u'.repeat(255)}`,
      ];
      assert.equal(keys[2]!.length, 1023);
      assert.equal(keys[3]!.length, 1024);
      for (const [i, key] of keys.entries()) {
        await storage.save(key, seededBytes(8, i + 1));
        assert.ok((await storage.load(key)).equals(seededBytes(8, i + 1)), `${key.slice(0, 12)}…`);
        assert.equal((await storage.stat(key)).size, 8);
      }
      assert.deepEqual(await listKeys(storage, ''), [...keys].sort());
      for (const key of keys) await storage.remove(key);
      assert.deepEqual(await listKeys(storage, ''), []);
      await assert.rejects(storage.list(`data/${'y'.repeat(256)}`, () => undefined), isA(PermanentError), 'a prefix no key can have');
    });

    test('concurrent saves of different keys all land', async (storage) => {
      const keys = Array.from({ length: 40 }, (_, i) => `data/${String(i % 4).padStart(2, '0')}/object-${i}`);
      await Promise.all(keys.map((key, i) => storage.save(key, pieces(seededBytes(1000 + i, i + 1), 300))));
      assert.deepEqual(await listKeys(storage, 'data/'), [...keys].sort());
      for (const [i, key] of keys.entries()) assert.ok((await storage.load(key)).equals(seededBytes(1000 + i, i + 1)));
    });

    test('concurrent saves of one key leave one whole object', async (storage) => {
      const versions = Array.from({ length: 10 }, (_, i) => seededBytes(20_000 + i * 1000, i + 1));
      await Promise.all(versions.map((data) => storage.save(PACK, pieces(data, 4096))));
      const stored = await storage.load(PACK);
      assert.ok(versions.some((data) => data.equals(stored)), 'the object is one of the versions, whole');
      assert.deepEqual(await listKeys(storage, ''), [PACK]);
    });

    test('ifAbsent creates an absent object and refuses an existing one with AlreadyExistsError, keeping it', async (storage) => {
      await storage.save('config', pieces(seededBytes(500, 1), 100), { ifAbsent: true });
      await assert.rejects(storage.save('config', pieces(seededBytes(20, 2), 7), { ifAbsent: true }), isA(AlreadyExistsError));
      await assert.rejects(storage.save('config', seededBytes(500, 1), { ifAbsent: true }), isA(AlreadyExistsError), 'the same bytes are refused too');
      assert.ok((await storage.load('config')).equals(seededBytes(500, 1)));
      assert.deepEqual(await listKeys(storage, ''), ['config']);
      // A failed create leaves the name free; once removed, it can be created again.
      await assert.rejects(storage.save(PACK, failingAfter(seededBytes(10), new Error('gone')), { ifAbsent: true }), /gone/);
      await storage.save(PACK, seededBytes(10, 3), { ifAbsent: true });
      await storage.remove('config');
      await storage.save('config', seededBytes(30, 4), { ifAbsent: true });
      assert.ok((await storage.load('config')).equals(seededBytes(30, 4)));
    });

    test('of concurrent ifAbsent saves of one key exactly one wins; the others are AlreadyExistsError', async (storage) => {
      // Each source pauses halfway, so that every save has begun before any has finished.
      async function* slow(data: Buffer): AsyncGenerator<Uint8Array> {
        yield data.subarray(0, 100);
        await sleep(50);
        yield data.subarray(100);
      }
      const versions = Array.from({ length: 4 }, (_, i) => seededBytes(1000 + i, i + 1));
      const outcomes = await Promise.allSettled(versions.map((data) => storage.save(PACK, slow(data), { ifAbsent: true })));
      const won = outcomes.flatMap((x, i) => (x.status === 'fulfilled' ? [i] : []));
      assert.equal(won.length, 1, `one winner, not ${won.length}`);
      for (const x of outcomes) if (x.status === 'rejected') assert.ok(x.reason instanceof AlreadyExistsError, String(x.reason));
      assert.ok((await storage.load(PACK)).equals(versions[won[0]!]!), 'the winner\'s bytes are stored');
      assert.deepEqual(await listKeys(storage, ''), [PACK]);
    });

    // begin: an object named at its end (a backup's data packs, written as they fill).
    test('begin: appended bytes are stored under the key given at commit, nothing listed before', async (storage) => {
      const data = seededBytes(3 * 1024 * 1024 + 1000, 7);
      const writer = await storage.begin('data');
      // Block-aligned pieces (written past the page cache by FsStorage) and an unaligned tail.
      const cuts = [0, 1024 * 1024, 2 * 1024 * 1024, 2 * 1024 * 1024 + 4096, 3 * 1024 * 1024 + 17, data.length];
      for (let i = 1; i < cuts.length; i++) await writer.append(data.subarray(cuts[i - 1], cuts[i]));
      assert.deepEqual(await listKeys(storage, ''), [], 'nothing visible before commit');
      await writer.commit(PACK, { length: data.length });
      assert.ok((await storage.load(PACK)).equals(data));
      assert.deepEqual(await storage.stat(PACK), { key: PACK, size: data.length });
      assert.deepEqual(await listKeys(storage, ''), [PACK]);
      await writer.abort();
      assert.ok((await storage.load(PACK)).equals(data), 'abort after commit changes nothing');
    });

    test('begin: the writer keeps no reference to an appended buffer once append resolves', async (storage) => {
      const writer = await storage.begin('data');
      const piece = Buffer.alloc(8192, 1);
      await writer.append(piece);
      piece.fill(2);
      await writer.append(piece);
      piece.fill(3);
      await writer.commit(PACK);
      assert.ok((await storage.load(PACK)).equals(Buffer.concat([Buffer.alloc(8192, 1), Buffer.alloc(8192, 2)])));
    });

    test('begin: an empty object, and commit replaces an existing object', async (storage) => {
      await storage.save(PACK, seededBytes(100, 1));
      const empty = await storage.begin('data');
      await empty.commit(PACK, { length: 0 });
      assert.equal((await storage.load(PACK)).length, 0);
      const writer = await storage.begin('data');
      await writer.append(seededBytes(300, 2));
      await writer.commit(PACK);
      assert.ok((await storage.load(PACK)).equals(seededBytes(300, 2)));
    });

    test('begin: abort, a wrong length or a key outside the folder store nothing', async (storage) => {
      const aborted = await storage.begin('data');
      await aborted.append(seededBytes(5000));
      await aborted.abort();
      await aborted.abort();
      const short = await storage.begin('data');
      await short.append(seededBytes(5000));
      await assert.rejects(short.commit(PACK, { length: 5001 }), isA(IntegrityError));
      await short.abort();
      const elsewhere = await storage.begin('data');
      await elsewhere.append(seededBytes(10));
      await assert.rejects(elsewhere.commit('index/x'), isA(PermanentError));
      await assert.rejects(elsewhere.commit(PACK), 'a writer whose commit failed is done');
      await elsewhere.abort();
      await assertNothingStored(storage, PACK);
      await assert.rejects(storage.begin('../x'), isA(PermanentError));
    });

    test('begin: writers in progress at once, interleaved with saves, each store their own bytes', async (storage) => {
      const writers = await Promise.all([0, 1, 2].map(() => storage.begin('data')));
      const keys = ['data/00/a', 'data/01/b', 'data/02/c'];
      for (let round = 0; round < 3; round++) {
        await Promise.all(writers.map((w, i) => w.append(seededBytes(4096 + i, 10 * round + i))));
        await storage.save(`index/i${round}`, seededBytes(10, round));
      }
      await Promise.all(writers.map((w, i) => w.commit(keys[i]!)));
      for (const [i, key] of keys.entries()) {
        const expected = Buffer.concat([0, 1, 2].map((round) => seededBytes(4096 + i, 10 * round + i)));
        assert.ok((await storage.load(key)).equals(expected), key);
      }
      if (storage.removeInterruptedSaves) assert.equal(await storage.removeInterruptedSaves(['data']), 0, 'no leftovers');
    });
  });
}
