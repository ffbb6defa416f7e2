import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { IntegrityError, NotFoundError, PermanentError } from '../../core/errors.js';
import { listKeys, runStorageConformance, seededBytes } from '../testing/conformance.js';
import { FsStorage } from './fs-storage.js';

const makeRoot = (): Promise<string> => mkdtemp(join(tmpdir(), 'ferry-fs-storage-'));

runStorageConformance('FsStorage', async () => {
  const root = await makeRoot();
  return { storage: new FsStorage(root), cleanup: () => rm(root, { recursive: true, force: true }) };
});

/** Every file and folder under `root`, relative, sorted. */
async function tree(root: string): Promise<string[]> {
  return (await readdir(root, { recursive: true })).sort();
}

/** Runs `body` on a fresh root directory and removes it afterwards. */
async function inRoot(body: (root: string) => Promise<void>): Promise<void> {
  const root = await makeRoot();
  try {
    await body(root);
  } finally {
    await chmod(root, 0o755).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  }
}

const isPermanent = (err: unknown): boolean => err instanceof PermanentError && err.cause !== undefined;
const isRoot = process.getuid?.() === 0;

describe('FsStorage', () => {
  it('does not touch the disk until the first save, which creates the root', () =>
    inRoot(async (parent) => {
      const root = join(parent, 'repo');
      const storage = new FsStorage(root);
      assert.deepEqual(await listKeys(storage, ''), []);
      await assert.rejects(storage.load('config'), NotFoundError);
      assert.deepEqual(await tree(parent), []);
      await storage.save('data/ab/abc', seededBytes(3));
      assert.deepEqual(await tree(root), ['data', 'data/ab', 'data/ab/abc']);
    }));

  it('streams of small, large and reused chunks are stored byte for byte (small ones are gathered into larger writes)', () =>
    inRoot(async (root) => {
      const storage = new FsStorage(root);
      const expected = seededBytes(5 * 1024 * 1024 + 123);
      // One buffer refilled for every chunk, as a source may do once it is asked for the next one.
      const reused = Buffer.alloc(3 * 1024 * 1024);
      async function* pieces(): AsyncGenerator<Uint8Array> {
        const sizes = [1, 65_536, 700_000, 2 * 1024 * 1024 + 5, 17, 65_536, 1_048_576, 3 * 1024 * 1024];
        let at = 0;
        for (let i = 0; at < expected.length; i++) {
          const n = Math.min(sizes[i % sizes.length]!, expected.length - at);
          expected.copy(reused, 0, at, at + n);
          yield reused.subarray(0, n);
          reused.fill(0xee, 0, n);
          at += n;
        }
      }
      await storage.save('data/ab/big', pieces(), { length: expected.length });
      assert.ok((await storage.load('data/ab/big')).equals(expected));
    }));

  it('a file where a folder should be gives a PermanentError and leaves no temp file', () =>
    inRoot(async (root) => {
      await writeFile(join(root, 'data'), 'not a folder');
      const storage = new FsStorage(root);
      await assert.rejects(storage.save('data/ab/abc', seededBytes(10)), isPermanent);
      await mkdir(join(root, 'index', 'busy'), { recursive: true });
      await writeFile(join(root, 'index', 'busy', 'x'), 'x');
      await assert.rejects(storage.save('index/busy', seededBytes(10)), isPermanent, 'a folder in the way of the rename');
      assert.deepEqual(await tree(root), ['data', 'index', 'index/busy', 'index/busy/x']);
    }));

  it('removes the temp file when the source throws or does not match length or sha256', () =>
    inRoot(async (root) => {
      const storage = new FsStorage(root);
      await storage.save('data/ab/keep', seededBytes(3));
      const failing = async function* (): AsyncGenerator<Uint8Array> {
        yield seededBytes(5000);
        throw new Error('source failed');
      };
      await assert.rejects(storage.save('data/ab/abc', failing()), /source failed/);
      await assert.rejects(storage.save('data/ab/abc', seededBytes(10), { length: 11 }), IntegrityError);
      await assert.rejects(storage.save('data/ab/abc', seededBytes(10), { length: 9 }), IntegrityError);
      await assert.rejects(storage.save('data/ab/abc', seededBytes(10), { sha256: '0'.repeat(64) }), IntegrityError);
      assert.deepEqual(await tree(root), ['data', 'data/ab', 'data/ab/keep']);
    }));

  it('a folder where an object should be is not an object', () =>
    inRoot(async (root) => {
      const storage = new FsStorage(root);
      await storage.save('data/ab/abc', seededBytes(3));
      await assert.rejects(storage.load('data/ab'), NotFoundError);
      await assert.rejects(storage.load('data/ab', { offset: 0, length: 1 }), NotFoundError);
      await assert.rejects(storage.stat('data'), NotFoundError);
      await storage.remove('data/ab');
      await storage.remove('data/ab/abc/deeper');
      assert.deepEqual(await listKeys(storage, ''), ['data/ab/abc']);
    }));

  it('skips temp files left by a crashed save and stray names', () =>
    inRoot(async (root) => {
      const storage = new FsStorage(root);
      await storage.save('data/ab/abc', seededBytes(3));
      await writeFile(join(root, 'data', 'ab', '.tmp-0123456789abcdef'), 'half a pack');
      await writeFile(join(root, 'data', 'ab', 'has space'), 'stray');
      assert.deepEqual(await listKeys(storage, ''), ['data/ab/abc']);
      await assert.rejects(storage.save('data/ab/.tmp-x', seededBytes(1)), PermanentError);
    }));

  it('removes the leftovers of interrupted saves in the folders asked for, and nothing else', () =>
    inRoot(async (root) => {
      const storage = new FsStorage(root);
      await storage.save('data/ab/abc', seededBytes(3));
      await storage.save('index/def', seededBytes(4));
      await storage.save('locks/123', seededBytes(5));
      await writeFile(join(root, 'data', 'ab', '.tmp-0123456789abcdef'), 'half a pack');
      await writeFile(join(root, 'index', '.tmp-fedcba9876543210'), 'half an index');
      await writeFile(join(root, 'locks', '.tmp-0000000000000000'), 'a lock being saved');
      await writeFile(join(root, 'data', 'ab', 'has space'), 'stray, not ours to remove');
      assert.equal(await storage.removeInterruptedSaves(['data', 'index', 'snapshots']), 2);
      assert.deepEqual(await tree(root), [
        'data', 'data/ab', 'data/ab/abc', 'data/ab/has space', 'index', 'index/def', 'locks', 'locks/.tmp-0000000000000000', 'locks/123',
      ]);
      assert.equal(await storage.removeInterruptedSaves(['data', 'index']), 0, 'idempotent');
      await assert.rejects(storage.removeInterruptedSaves(['../outside']), PermanentError);
    }));

  it('begin: the temp file sits in the folder until commit; failpoints in save\'s order; an interrupted one is a leftover', () =>
    inRoot(async (root) => {
      const hits: string[] = [];
      const storage = new FsStorage(root, { failpoints: { hit: (name: string) => void hits.push(name) } });
      const writer = await storage.begin('data');
      await writer.append(seededBytes(8192));
      const temps = (await tree(root)).filter((name) => name.startsWith('data/.tmp-'));
      assert.equal(temps.length, 1, 'one temp file in data/');
      await writer.commit('data/ab/abc');
      assert.deepEqual(hits, ['fs-written:data', 'fs-synced:data', 'fs-renamed:data']);
      assert.deepEqual(await tree(root), ['data', 'data/ab', 'data/ab/abc']);
      // A writer whose process died before commit: its temp file is the interrupted save's leftover.
      const killed = await storage.begin('data');
      await killed.append(seededBytes(100));
      assert.deepEqual(await listKeys(storage, ''), ['data/ab/abc']);
      assert.equal(await storage.removeInterruptedSaves(['data']), 1);
      assert.deepEqual(await tree(root), ['data', 'data/ab', 'data/ab/abc']);
      await killed.abort();
    }));

  it('begin: a commit whose folder cannot be made fails with a PermanentError and removes the temp file', () =>
    inRoot(async (root) => {
      const storage = new FsStorage(root);
      await storage.save('index/x', seededBytes(3));
      await mkdir(join(root, 'data'));
      await writeFile(join(root, 'data', 'ab'), 'a file where the folder should be');
      const writer = await storage.begin('data');
      await writer.append(seededBytes(5000));
      await assert.rejects(writer.commit('data/ab/abc'), isPermanent);
      assert.deepEqual((await tree(root)).filter((name) => name.includes('.tmp-')), []);
    }));

  it('a read-only folder gives a PermanentError and leaves no temp file', {
    skip: isRoot ? 'root ignores permissions' : false,
  }, () =>
    inRoot(async (root) => {
      const storage = new FsStorage(root);
      await storage.save('data/ab/abc', seededBytes(3));
      await chmod(join(root, 'data', 'ab'), 0o555);
      await assert.rejects(storage.save('data/ab/def', seededBytes(3)), isPermanent);
      await chmod(join(root, 'data', 'ab'), 0o755);
      assert.deepEqual(await tree(join(root, 'data', 'ab')), ['abc']);
    }));

  it('ranged reads of a file cut short behind its back (its handle cached) fail as too short, not with stale bytes', () =>
    inRoot(async (root) => {
      const storage = new FsStorage(root);
      const bytes = seededBytes(64 * 1024);
      await storage.save('data/ab/abc', bytes);
      assert.deepEqual(await storage.load('data/ab/abc', { offset: 1000, length: 100 }), bytes.subarray(1000, 1100));
      // Damage in place (not through the storage): the cached handle's size is stale, the read is not.
      await truncate(join(root, 'data', 'ab', 'abc'), 2000);
      await assert.rejects(storage.load('data/ab/abc', { offset: 1500, length: 1000 }), IntegrityError);
      await assert.rejects(storage.loadInto('data/ab/abc', { offset: 1500, length: 1000 }, Buffer.alloc(1000)), IntegrityError);
      // A save replaces the file and drops the handle: the new size counts.
      await storage.save('data/ab/abc', bytes.subarray(0, 3000));
      await assert.rejects(storage.load('data/ab/abc', { offset: 2500, length: 1000 }), IntegrityError);
      assert.deepEqual(await storage.load('data/ab/abc', { offset: 2500, length: 500 }), bytes.subarray(2500, 3000));
      await storage.close();
    }));
});
