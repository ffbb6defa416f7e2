import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { IntegrityError } from '../core/errors.js';
import { deriveDiskSubkeys, DISK_FORMAT_VERSION } from './disk-format.js';
import { ManifestSize, openManifest, sealManifest, type DiskManifest } from './manifest.js';

const DISK_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';
const OTHER_DISK_ID = '7c9e6679-7425-40de-944b-e07fc1f90ae7';

const entryArb = fc.record({
  folder: fc.constantFrom('data', 'index', 'snapshots'),
  id: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  size: fc.integer({ min: 0, max: 2 ** 40 }),
  fileId: fc.uint8Array({ minLength: 8, maxLength: 8 }),
});

type EntrySpec = typeof entryArb extends fc.Arbitrary<infer T> ? T : never;

function manifestOf(entries: EntrySpec[], jobName = 'job-1'): DiskManifest {
  const seen = new Set<string>();
  const files = [];
  for (const [n, e] of entries.entries()) {
    const id = Buffer.from(e.id).toString('hex');
    const path = e.folder === 'data' ? `data/${id.slice(0, 2)}/${id}` : `${e.folder}/${id}`;
    if (seen.has(path)) continue;
    seen.add(path);
    files.push({ n: n * 3, path, size: e.size, sha256: id, fileId: Buffer.from(e.fileId).toString('hex') });
  }
  return {
    format: 'ferry-disk-manifest',
    version: DISK_FORMAT_VERSION,
    job: { id: 'job-id-1', name: jobName },
    diskId: DISK_ID,
    index: 2,
    segmentSize: 1024 * 1024,
    createdAt: new Date(1_700_000_000_000).toISOString(),
    files,
  };
}

test('property: a manifest round-trips, and its size stays within the bound placement reserved', () => {
  fc.assert(
    fc.property(fc.array(entryArb, { maxLength: 20 }), fc.string({ minLength: 1, maxLength: 40 }), (entries, jobName) => {
      const key = deriveDiskSubkeys(randomBytes(32), DISK_ID).manifestKey;
      const manifest = manifestOf(entries, jobName);
      const sealed = sealManifest(key, manifest);
      assert.deepEqual(openManifest(key, sealed, DISK_ID), manifest);
      const { files, ...header } = manifest;
      const bound = new ManifestSize(header);
      for (const f of files) {
        const next = bound.with(f.path, f.size);
        bound.add(f.path, f.size);
        assert.equal(bound.bytes, next);
      }
      assert.ok(sealed.length <= bound.bytes, `sealed ${sealed.length} > bound ${bound.bytes}`);
    }),
  );
});

test('property: any edited byte of the manifest is detected', () => {
  fc.assert(
    fc.property(fc.array(entryArb, { minLength: 1, maxLength: 5 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (entries, at, flip) => {
      const key = deriveDiskSubkeys(randomBytes(32), DISK_ID).manifestKey;
      const sealed = sealManifest(key, manifestOf(entries));
      sealed[at % sealed.length]! ^= flip;
      assert.throws(() => openManifest(key, sealed, DISK_ID), IntegrityError);
    }),
  );
});

test('a manifest does not open as another disk, under another key, cut short or with extra bytes', () => {
  const diskKey = randomBytes(32);
  const key = deriveDiskSubkeys(diskKey, DISK_ID).manifestKey;
  const sealed = sealManifest(key, manifestOf([{ folder: 'data', id: new Uint8Array(32), size: 5, fileId: new Uint8Array(8) }]));
  assert.throws(() => openManifest(key, sealed, OTHER_DISK_ID), IntegrityError);
  assert.throws(() => openManifest(deriveDiskSubkeys(diskKey, OTHER_DISK_ID).manifestKey, sealed, DISK_ID), IntegrityError);
  assert.throws(() => openManifest(deriveDiskSubkeys(randomBytes(32), DISK_ID).manifestKey, sealed, DISK_ID), IntegrityError);
  assert.throws(() => openManifest(key, sealed.subarray(0, sealed.length - 1), DISK_ID), IntegrityError);
  assert.throws(() => openManifest(key, Buffer.concat([sealed, Buffer.from([0])]), DISK_ID), IntegrityError);
  assert.throws(() => openManifest(key, Buffer.alloc(10), DISK_ID), IntegrityError);
  // A manifest of disk format 1 (before segments were only authenticated) is refused by its version.
  const older = Buffer.from(sealed);
  older.write('FERRYMF1', 0, 'latin1');
  assert.throws(() => openManifest(key, older, DISK_ID), (err: Error) => err instanceof IntegrityError && /disk format version 1; this Ferry reads version 2/.test(err.message));
});

test('the writer refuses entries out of order, repeated, or outside data/, index/ and snapshots/', () => {
  const key = randomBytes(32);
  const base = manifestOf([]);
  const entry = { n: 0, path: `data/00/${'0'.repeat(64)}`, size: 1, sha256: '0'.repeat(64), fileId: '0'.repeat(16) };
  assert.throws(() => sealManifest(key, { ...base, files: [entry, { ...entry, n: 1 }] }), IntegrityError);
  assert.throws(() => sealManifest(key, { ...base, files: [{ ...entry, n: 1 }, { ...entry, n: 0, path: `index/${'1'.repeat(64)}` }] }), IntegrityError);
  // Paths are checked on reading: a key under keys/ or with .. never opens.
  for (const path of [`keys/${'0'.repeat(64)}`, 'data/../config', 'config', `data/00/.tmp-${'0'.repeat(8)}`]) {
    const sealed = sealManifest(key, { ...base, files: [{ ...entry, path }] });
    assert.throws(() => openManifest(key, sealed, DISK_ID), /breaks the format/, path);
  }
});
