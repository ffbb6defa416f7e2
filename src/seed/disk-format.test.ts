// The encrypted file format (docs/disk-format.md, section 5) as properties: whatever the sizes and the
// segment size, files round-trip; one flipped byte spoils exactly the segment holding it; segments cannot
// be reordered, nor files renamed, moved to another path or another disk, or truncated, undetected.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, rename, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { systemRandom } from '../core/random.js';
import { MemoryStorage } from '../storage/memory-storage.js';
import { copyToDisk, type CopiedFile } from './disk-copier.js';
import { deriveDiskSubkeys, diskFileName, encryptedSize, FILE_HEADER_BYTES, fileNumberOf, isEncryptedSegment, segmentCount, segmentLength, TAG_BYTES } from './disk-format.js';
import { readDiskFile } from './disk-reader.js';
import { verifyFiles } from './disk-verifier.js';
import { CryptoPool } from './crypto-pool.js';
import { contentKey, seededBytes, tempFolder } from './testing/staging-fixture.js';

const DISK_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';
const OTHER_DISK_ID = '7c9e6679-7425-40de-944b-e07fc1f90ae7';

async function writeDisk(sizes: number[], segmentSize: number, disk: string, diskId = DISK_ID, seed = disk): Promise<{ fileKey: Buffer; copied: CopiedFile[]; plaintexts: Map<string, Buffer> }> {
  const staging = new MemoryStorage();
  const plaintexts = new Map<string, Buffer>();
  const files = [];
  for (const [i, size] of sizes.entries()) {
    const bytes = seededBytes(`${seed}/${i}`, size);
    const path = contentKey('data', bytes);
    if (plaintexts.has(path)) continue;
    await staging.save(path, bytes);
    plaintexts.set(path, bytes);
    files.push({ path, size });
  }
  const fileKey = deriveDiskSubkeys(randomBytes(32), diskId).fileKey;
  const result = await copyToDisk(files, {
    source: staging,
    disk,
    diskId,
    fileKey,
    pool: new CryptoPool(0),
    segmentSize,
    firstNumber: 0,
    usedFileIds: new Set(),
    random: systemRandom,
    progress: { bytes: 0, files: 0 },
    onCopied: async () => undefined,
    readBytes: segmentSize * 3,
  });
  assert.equal(result.full, false);
  return { fileKey, copied: result.copied, plaintexts };
}

const sizesArb = fc.array(fc.integer({ min: 0, max: 700 }), { minLength: 1, maxLength: 6 });
const segmentArb = fc.constantFrom(16, 17, 64, 100, 256);

test('names: file numbers map to files/DDDD/NNNNNNNN.fry and back', () => {
  assert.equal(diskFileName(0), 'files/0000/00000000.fry');
  assert.equal(diskFileName(1000), 'files/0001/00001000.fry');
  fc.assert(fc.property(fc.integer({ min: 0, max: 9_999_999 }), (n) => fileNumberOf(diskFileName(n)) === n));
  for (const bad of ['files/0000/00001000.fry', 'files/0000/0000000.fry', 'files/0000/00000000.fry.tmp', 'FERRY-MANIFEST']) assert.equal(fileNumberOf(bad), undefined, bad);
  assert.throws(() => diskFileName(-1), RangeError);
});

test('property: files of any size round-trip and verify, and have the specified length', async () => {
  await fc.assert(
    fc.asyncProperty(sizesArb, segmentArb, async (sizes, segmentSize) => {
      const dir = await tempFolder();
      try {
        const { fileKey, copied, plaintexts } = await writeDisk(sizes, segmentSize, dir.path);
        assert.deepEqual(copied.map((c) => c.n), copied.map((_, i) => i));
        for (const entry of copied) {
          const onDisk = await readFile(join(dir.path, diskFileName(entry.n)));
          assert.equal(onDisk.length, encryptedSize(entry.size, segmentSize));
          assert.equal(entry.diskBytes, onDisk.length);
          assert.deepEqual(await readDiskFile(dir.path, DISK_ID, fileKey, segmentSize, entry), plaintexts.get(entry.path));
        }
        const checks = await verifyFiles(dir.path, DISK_ID, fileKey, segmentSize, copied, { readBytes: segmentSize * 2 });
        assert.deepEqual(checks.map((c) => c.status), copied.map(() => 'ok'));
      } finally {
        await dir.cleanup();
      }
    }),
    { numRuns: 30 },
  );
});

test('property: only the tail is encrypted: other segments hold the staging bytes as they are, each with its tag', async () => {
  await fc.assert(
    fc.asyncProperty(sizesArb, fc.constantFrom(16, 64, 256, 1024), async (sizes, segmentSize) => {
      const dir = await tempFolder();
      try {
        const { copied, plaintexts } = await writeDisk(sizes, segmentSize, dir.path);
        for (const entry of copied) {
          const plain = plaintexts.get(entry.path)!;
          const onDisk = await readFile(join(dir.path, diskFileName(entry.n)));
          const tail = Math.floor(segmentSize / 256);
          let at = FILE_HEADER_BYTES;
          for (let index = 0; index < segmentCount(entry.size, segmentSize); index++) {
            const length = segmentLength(entry.size, segmentSize, index);
            const body = onDisk.subarray(at, at + length);
            const bytes = plain.subarray(index * segmentSize, index * segmentSize + length);
            const encrypted = isEncryptedSegment(entry.size, segmentSize, index);
            assert.equal(encrypted, index === segmentCount(entry.size, segmentSize) - 1 || index * segmentSize + length > entry.size - tail);
            if (!encrypted) assert.ok(body.equals(bytes), `segment ${index} is the staging bytes`);
            else if (length >= 8) assert.ok(!body.equals(bytes), `segment ${index} is encrypted`);
            at += length + TAG_BYTES;
          }
        }
      } finally {
        await dir.cleanup();
      }
    }),
    { numRuns: 20 },
  );
  // At 1 MiB, a final segment shorter than 4 KiB takes the one before it into the encrypted tail.
  const MiB = 1024 * 1024;
  assert.deepEqual([0, 1, 2].map((i) => isEncryptedSegment(2 * MiB + 100, MiB, i)), [false, true, true]);
  assert.deepEqual([0, 1, 2].map((i) => isEncryptedSegment(2 * MiB + 5000, MiB, i)), [false, false, true]);
  assert.deepEqual([0, 1].map((i) => isEncryptedSegment(2 * MiB, MiB, i)), [false, true]);
});

test('a file of another disk put in the place of one of this disk does not authenticate, even with the same size and file id', async () => {
  const here = await tempFolder();
  const there = await tempFolder();
  try {
    const segmentSize = 64;
    const mine = await writeDisk([1000], segmentSize, here.path, DISK_ID, 'same');
    await writeDisk([1000], segmentSize, there.path, OTHER_DISK_ID, 'same');
    const [entry] = mine.copied as [CopiedFile];
    const name = join(here.path, diskFileName(entry.n));
    const foreign = await readFile(join(there.path, diskFileName(0)));
    await writeFile(name, foreign);
    let [check] = await verifyFiles(here.path, DISK_ID, mine.fileKey, segmentSize, [entry]);
    assert.equal(check!.status, 'bad-header');
    // The header's file id made to match: the disk id and the other disk's key still refuse every segment.
    Buffer.from(entry.fileId, 'hex').copy(foreign, 8);
    await writeFile(name, foreign);
    [check] = await verifyFiles(here.path, DISK_ID, mine.fileKey, segmentSize, [entry]);
    assert.equal(check!.status, 'damaged');
    assert.equal(check!.badSegments!.length, segmentCount(entry.size, segmentSize));
  } finally {
    await here.cleanup();
    await there.cleanup();
  }
});

test('property: one flipped byte spoils exactly the segment that holds it (or the header)', async () => {
  await fc.assert(
    fc.asyncProperty(sizesArb, segmentArb, fc.nat(), fc.nat(), async (sizes, segmentSize, pickFile, pickByte) => {
      const dir = await tempFolder();
      try {
        const { fileKey, copied } = await writeDisk(sizes, segmentSize, dir.path);
        const victim = copied[pickFile % copied.length]!;
        const name = join(dir.path, diskFileName(victim.n));
        const bytes = await readFile(name);
        const at = pickByte % bytes.length;
        bytes[at]! ^= 0x01 << (pickByte % 8);
        await writeFile(name, bytes);
        const checks = await verifyFiles(dir.path, DISK_ID, fileKey, segmentSize, copied);
        for (const check of checks) {
          if (check.n !== victim.n) {
            assert.equal(check.status, 'ok');
            continue;
          }
          if (at < FILE_HEADER_BYTES) {
            // The magic, the file id (the nonce) or the segment size: the header no longer matches.
            assert.equal(check.status, 'bad-header');
            continue;
          }
          assert.equal(check.status, 'damaged');
          assert.deepEqual(check.badSegments, [Math.floor((at - FILE_HEADER_BYTES) / (segmentSize + TAG_BYTES))]);
        }
      } finally {
        await dir.cleanup();
      }
    }),
    { numRuns: 40 },
  );
});

test('property: swapped segments, swapped files, truncation and another disk id are all detected', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 3, max: 12 }), segmentArb, async (segmentsWanted, segmentSize) => {
      const dir = await tempFolder();
      try {
        const size = segmentSize * segmentsWanted;
        const { fileKey, copied } = await writeDisk([size, size], segmentSize, dir.path);
        const [a, b] = copied as [CopiedFile, CopiedFile];
        const nameA = join(dir.path, diskFileName(a.n));
        const nameB = join(dir.path, diskFileName(b.n));
        const original = await readFile(nameA);

        // Two full segments of one file change places.
        const record = segmentSize + TAG_BYTES;
        const swapped = Buffer.from(original);
        original.copy(swapped, FILE_HEADER_BYTES, FILE_HEADER_BYTES + record, FILE_HEADER_BYTES + 2 * record);
        original.copy(swapped, FILE_HEADER_BYTES + record, FILE_HEADER_BYTES, FILE_HEADER_BYTES + record);
        await writeFile(nameA, swapped);
        let [check] = await verifyFiles(dir.path, DISK_ID, fileKey, segmentSize, [a]);
        assert.equal(check!.status, 'damaged');
        assert.deepEqual(check!.badSegments, [0, 1]);
        await writeFile(nameA, original);

        // The two files change names: each now has another file's header (file id).
        await rename(nameA, `${nameA}.x`);
        await rename(nameB, nameA);
        await rename(`${nameA}.x`, nameB);
        assert.deepEqual((await verifyFiles(dir.path, DISK_ID, fileKey, segmentSize, [a, b])).map((c) => c.status), ['bad-header', 'bad-header']);
        // …and with the headers' file ids, the segments still refuse the other path.
        const forged = { ...a, fileId: b.fileId };
        [check] = await verifyFiles(dir.path, DISK_ID, fileKey, segmentSize, [forged]);
        assert.equal(check!.status, 'damaged');
        assert.equal(check!.badSegments!.length, segmentCount(a.size, segmentSize));
        await rename(nameA, `${nameA}.x`);
        await rename(nameB, nameA);
        await rename(`${nameA}.x`, nameB);

        // Another disk's id in the associated data: nothing authenticates.
        [check] = await verifyFiles(dir.path, OTHER_DISK_ID, fileKey, segmentSize, [a]);
        assert.equal(check!.status, 'damaged');

        // Cut after the last whole segment, and the manifest's size is not met; an entry claiming the
        // shorter size fails on the final flag of the segment that is now last.
        await truncate(nameA, original.length - (segmentLength(a.size, segmentSize, segmentsWanted - 1) + TAG_BYTES));
        [check] = await verifyFiles(dir.path, DISK_ID, fileKey, segmentSize, [a]);
        assert.equal(check!.status, 'wrong-size');
        [check] = await verifyFiles(dir.path, DISK_ID, fileKey, segmentSize, [{ ...a, size: a.size - segmentSize }]);
        assert.equal(check!.status, 'damaged');
        assert.deepEqual(check!.badSegments, [segmentsWanted - 2]);

        await rename(nameA, `${nameA}.gone`);
        [check] = await verifyFiles(dir.path, DISK_ID, fileKey, segmentSize, [a]);
        assert.equal(check!.status, 'missing');
      } finally {
        await dir.cleanup();
      }
    }),
    { numRuns: 15 },
  );
});

test('a file whose bytes do not match its content name stops the copy (damaged staging)', async () => {
  const dir = await tempFolder();
  try {
    const staging = new MemoryStorage();
    const bytes = seededBytes('x', 1000);
    const path = contentKey('data', bytes);
    bytes[10]! ^= 1;
    await staging.save(path, bytes);
    await assert.rejects(
      copyToDisk([{ path, size: bytes.length }], {
        source: staging,
        disk: dir.path,
        diskId: DISK_ID,
        fileKey: randomBytes(32),
        pool: new CryptoPool(0),
        segmentSize: 64,
        firstNumber: 0,
        usedFileIds: new Set(),
        random: systemRandom,
        progress: { bytes: 0, files: 0 },
        onCopied: async () => undefined,
      }),
      /staging file .* is damaged/,
    );
  } finally {
    await dir.cleanup();
  }
});
