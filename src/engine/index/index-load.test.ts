import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { IntegrityError } from '../../core/errors.js';
import type { Id } from '../../core/ids.js';
import { objectKey } from '../../storage/layout.js';
import { MemoryStorage } from '../../storage/memory-storage.js';
import { BlobCompressor } from '../compress/zstd.js';
import { sha256Id } from '../crypto/sha256.js';
import { indexFileArb } from '../testing/arbitraries.js';
import { syntheticIndexFiles, writeSyntheticIndex } from '../testing/synthetic-index.js';
import { sealIndex } from './index-file.js';
import type { IndexFile } from './index-format.js';
import { loadIndexFiles, packsInEffect, readIndexFiles } from './index-set.js';
import { MasterIndex } from './master-index.js';

fc.configureGlobal({ seed: 42, numRuns: 60 });

const KEY = Buffer.alloc(32, 0x44);
const compressor = new BlobCompressor();

async function store(storage: MemoryStorage, file: IndexFile): Promise<Id> {
  const sealed = sealIndex(KEY, file, compressor);
  const id = sha256Id(sealed);
  await storage.save(objectKey('index', id), sealed, { length: sealed.length });
  return id;
}

/** What the index held before streaming loads: every file opened into objects, then packsInEffect. */
async function oldWay(storage: MemoryStorage): Promise<MasterIndex> {
  const index = new MasterIndex({ fullIds: true });
  const { files } = await readIndexFiles(storage, KEY);
  for (const pack of packsInEffect(files).values()) index.addPack(pack.id, pack.blobs);
  return index;
}

const sorted = (index: MasterIndex): unknown[] => [...index.entries()].sort((a, b) => a.id.localeCompare(b.id) || a.packId.localeCompare(b.packId));

/** Index files, some superseding earlier ones (as an interrupted rewrite leaves them). */
const filesArb = fc.array(fc.tuple(indexFileArb, fc.array(fc.nat(), { maxLength: 3 })), { minLength: 1, maxLength: 6 });

describe('loadIndexFiles', () => {
  it('indexes what the files in effect list, as reading every file and applying packsInEffect does', async () => {
    await fc.assert(
      fc.asyncProperty(filesArb, async (files) => {
        const storage = new MemoryStorage();
        const ids: Id[] = [];
        for (const [file, supersedes] of files) {
          ids.push(await store(storage, { ...file, supersedes: ids.length === 0 ? [] : supersedes.map((n) => ids[n % ids.length]!) }));
        }
        const index = new MasterIndex({ fullIds: true });
        const load = await loadIndexFiles(storage, KEY, index);
        const expected = await oldWay(storage);
        assert.deepEqual(sorted(index), sorted(expected));
        assert.deepEqual([...index.packs()], [...expected.packs()]);
        const { files: all } = await readIndexFiles(storage, KEY);
        const superseded = new Set([...all.values()].flatMap((f) => f.supersedes));
        assert.deepEqual(load.inEffect, [...all.keys()].filter((id) => !superseded.has(id)));
        assert.deepEqual(load.superseded, superseded);
        assert.deepEqual(load.unreadable, []);
      }),
    );
  });

  it('starts over when a file it already indexed turns out superseded by a later one', async () => {
    const storage = new MemoryStorage();
    const pack = (c: string, offset: number): IndexFile['packs'][number] => ({
      id: c.repeat(64) as Id,
      blobs: [{ type: 'data', id: 'e'.repeat(64) as Id, compression: 0, offset, length: 1, rawLength: 1 }],
    });
    // Find an old file whose id sorts before its superseder's, so the superseder is read last.
    for (let offset = 0; ; offset++) {
      const oldId = await store(storage, { packs: [pack('a', offset)], supersedes: [] });
      const newId = await store(storage, { packs: [pack('b', 0)], supersedes: [oldId] });
      if (oldId < newId) {
        const index = new MasterIndex();
        const load = await loadIndexFiles(storage, KEY, index);
        assert.deepEqual(load.inEffect, [newId]);
        assert.deepEqual([...index.packs().keys()], ['b'.repeat(64)]);
        assert.equal(index.lookup('e'.repeat(64) as Id)?.packId, 'b'.repeat(64));
        return;
      }
      await storage.remove(objectKey('index', oldId));
      await storage.remove(objectKey('index', newId));
    }
  });

  it('returns the files that do not open, and indexes the others', async () => {
    const storage = new MemoryStorage();
    const good = await store(storage, { packs: [{ id: 'c'.repeat(64) as Id, blobs: [] }], supersedes: [] });
    const bad = 'f'.repeat(64) as Id;
    await storage.save(objectKey('index', bad), Buffer.alloc(100, 1), { length: 100 });
    const index = new MasterIndex();
    const load = await loadIndexFiles(storage, KEY, index);
    assert.deepEqual(load.inEffect, [good]);
    assert.deepEqual(load.unreadable.map((f) => f.id), [bad]);
    assert.ok(load.unreadable[0]!.error instanceof IntegrityError);
    assert.ok(index.hasPack('c'.repeat(64) as Id));
  });

  it('sizes the table from the files, not from a stray huge object among them', async () => {
    const storage = new MemoryStorage();
    await writeSyntheticIndex(storage, KEY, { blobs: 40_000, blobsPerFile: 4096 });
    const clean = new MasterIndex();
    await loadIndexFiles(storage, KEY, clean);
    const junk = Buffer.alloc(65 * 1024 * 1024, 7);
    await storage.save(objectKey('index', '0'.repeat(64) as Id), junk, { length: junk.length });
    const index = new MasterIndex();
    const load = await loadIndexFiles(storage, KEY, index);
    assert.deepEqual(load.unreadable.map((f) => f.id), ['0'.repeat(64)]);
    assert.equal(index.blobCount, 40_000);
    assert.equal(index.byteLength, clean.byteLength);
  });

  it('holds a million blobs in at most 40 bytes each', async () => {
    setFlagsFromString('--expose-gc');
    const collect = runInNewContext('gc') as () => void;
    // Buffers of native code are freed by finalizers after a collection: collect again once they ran.
    const gc = async (): Promise<void> => {
      for (let i = 0; i < 3; i++) {
        collect();
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const storage = new MemoryStorage();
    const blobs = 1_000_000;
    await writeSyntheticIndex(storage, KEY, { blobs, compress: true });
    assert.equal(syntheticIndexFiles({ blobs }), 16);
    await gc();
    const before = process.memoryUsage();
    const index = new MasterIndex();
    await loadIndexFiles(storage, KEY, index);
    await gc();
    const after = process.memoryUsage();
    assert.equal(index.blobCount, blobs);
    assert.equal(index.packs().size, blobs / 64);
    const arrays = index.byteLength / blobs;
    const measured = (after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / blobs;
    console.log(`index of ${blobs} blobs: ${arrays.toFixed(1)} bytes a blob in its arrays, ${measured.toFixed(1)} measured on the heap`);
    assert.ok(arrays <= 40, `${arrays} bytes a blob`);
    assert.ok(measured <= 40, `${measured} bytes a blob`);
  });
});
