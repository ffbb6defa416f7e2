import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, symlink, writeFile, cp, rename, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { IntegrityError, InterruptedError, PermanentError, UserError } from '../core/errors.js';
import { deriveDiskSubkeys, diskFileName, encryptedSize, FILE_HEADER_BYTES, fileHeader, LABEL_NAME, MANIFEST_NAME, segmentCount, segmentLength, TAG_BYTES } from '../seed/disk-format.js';
import { openManifest, sealManifest, type DiskManifest, type ManifestEntry } from '../seed/manifest.js';
import { sealSegment, segmentPlace } from '../seed/segment-crypto.js';
import { throwingFailpoint } from '../seed/testing/diskprep-fixture.js';
import { FaultyStorage } from '../storage/testing/faulty-storage.js';
import { IngestFixture } from './testing/ingest-fixture.js';

const SIZES = { data: [3000, 5000, 7000, 2000, 4000, 6000] };
const MAX_BYTES = 19000;
const fixtures: IngestFixture[] = [];

async function received(): Promise<IngestFixture> {
  const f = await IngestFixture.create(SIZES, MAX_BYTES);
  fixtures.push(f);
  await f.service.receive(f.jobId);
  return f;
}

after(async () => {
  for (const f of fixtures) await f.cleanup();
});

/** The manifest of disk `index` opened with its key. */
async function manifestOf(f: IngestFixture, index: number): Promise<{ manifest: DiskManifest; keys: ReturnType<typeof deriveDiskSubkeys> }> {
  const job = await f.job();
  const disk = job.disks[index]!;
  const keys = deriveDiskSubkeys(f.prep.key(index), disk.id);
  return { manifest: openManifest(keys.manifestKey, await readFile(join(f.disks[index]!, MANIFEST_NAME)), disk.id), keys };
}

/** Re-seals disk `index`'s manifest after `change`, writes it and registers its SHA-256 with the fake (as if diskprep had written it). */
async function reseal(f: IngestFixture, index: number, change: (m: DiskManifest) => DiskManifest): Promise<void> {
  const { manifest, keys } = await manifestOf(f, index);
  const bytes = sealManifest(keys.manifestKey, change(manifest));
  await writeFile(join(f.disks[index]!, MANIFEST_NAME), bytes);
  f.service.patchDisk(f.jobId, index, { manifestSha256: createHash('sha256').update(bytes).digest('hex'), files: change(manifest).files.length });
}

async function flipByte(path: string, offset: number): Promise<void> {
  const bytes = await readFile(path);
  bytes[offset] = bytes[offset]! ^ 0x40;
  await writeFile(path, bytes);
}

async function assertImportHoldsStaging(f: IngestFixture): Promise<void> {
  for (const file of f.prep.files) assert.deepEqual(await f.storage.inner.load(file.path), file.bytes, file.path);
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

describe('ingest of a three-disk job', () => {
  it('ingests every disk in every order, one command each, and the job ends Completed', async () => {
    for (const order of permutations([0, 1, 2])) {
      const f = await received();
      assert.equal((await f.job()).disks.length, 3);
      for (const [step, index] of order.entries()) {
        const result = await f.ingest([f.disks[index]!]);
        assert.equal(result.exitCode, 0, JSON.stringify(result.disks));
        assert.equal(result.disks[0]!.state, 'Completed');
        assert.equal(result.disks[0]!.index, index, 'identified by its label, not by order');
        assert.equal(result.job.state, step === 2 ? 'Completed' : 'Transferring');
      }
      await assertImportHoldsStaging(f);
      assert.equal(f.storage.uploads.length, f.prep.files.length, `order ${order.join(',')}: every file uploaded once`);
      assert.deepEqual(f.service.keyReleases.map((r) => r.index), order, 'one key release per disk, audited');
      assert.match((await f.job()).timeline.map((e) => e.note ?? '').join('\n'), /disk key of disk 1 released/);
    }
  });

  it('ingests several disks side by side in one command, given in any order, on worker threads', async () => {
    const f = await received();
    const result = await f.ingest([f.disks[2]!, f.disks[0]!, f.disks[1]!], { workers: 2 });
    assert.equal(result.exitCode, 0, JSON.stringify(result.disks));
    assert.deepEqual(result.disks.map((d) => d.index), [2, 0, 1]);
    assert.equal(result.job.state, 'Completed');
    await assertImportHoldsStaging(f);
    const progress = f.progress.map((p) => [p.number, p.filesDone, p.totalFiles, p.bytesDone === p.totalBytes, p.phase]);
    assert.deepEqual(progress.map((p) => p[0]), [3, 1, 2]);
    assert.ok(progress.every((p) => p[1] === p[2] && p[3] === true && p[4] === 'done'), JSON.stringify(progress));
    const job = await f.job();
    assert.ok(job.disks.every((d) => d.progress !== null && d.progress.filesDone === d.files), 'progress reached the service');
  });

  it('is idempotent: a second ingest of the same disks uploads nothing and changes nothing', async () => {
    const f = await received();
    assert.equal((await f.ingest()).exitCode, 0);
    const uploads = f.storage.uploads.length;
    const again = await f.ingest();
    assert.equal(again.exitCode, 0);
    assert.ok(again.disks.every((d) => d.alreadyFinal && d.state === 'Completed'), JSON.stringify(again.disks));
    assert.equal(f.storage.uploads.length, uploads, 'nothing uploaded twice');
    assert.equal(f.service.keyReleases.length, 3, 'no key released for a finished job');
  });

  it('resumes after a crash between an upload and its result: the rerun uploads nothing twice', async () => {
    const f = await received();
    const crash = throwingFailpoint('ingest-file-uploaded', 3);
    const first = await f.ingest([f.disks[0]!], { failpoints: crash, window: 1 });
    assert.ok(crash.fired);
    assert.equal(first.disks[0]!.state, 'Stopped');
    assert.equal(first.exitCode, 1);
    assert.match(first.disks[0]!.message, /run the same command again to resume/);
    assert.equal((await f.job()).disks[0]!.state, 'Transferring');
    const second = await f.ingest([f.disks[0]!]);
    assert.equal(second.disks[0]!.state, 'Completed');
    // The crash is at the 3rd upload to finish: the files before it are recorded (2, or 3 when the next
    // file's upload, already running beside it, finished first and so took the 3rd hit), the crashed one is not.
    const recorded = first.disks[0]!.filesOk;
    assert.ok(recorded === 2 || recorded === 3, `recorded before the crash: ${recorded}`);
    assert.equal(second.disks[0]!.filesBefore, recorded, 'the recorded files were skipped');
    const counts = new Map<string, number>();
    for (const key of f.storage.uploads) counts.set(key, (counts.get(key) ?? 0) + 1);
    assert.ok([...counts.values()].every((n) => n === 1), `uploaded twice: ${JSON.stringify([...counts])}`);
  });

  it('stops on an interrupt with what finished recorded, and the rerun completes', async () => {
    const f = await received();
    const controller = new AbortController();
    let uploads = 0;
    const abortAtSecond = { hit: (point: string) => void (point === 'ingest-file-uploaded' && ++uploads === 2 && controller.abort()) };
    await assert.rejects(f.ingest([f.disks[0]!], { failpoints: abortAtSecond, signal: controller.signal, window: 1 }), InterruptedError);
    const recorded = [...f.service.resultsOf(f.jobId).values()];
    assert.ok(recorded.length >= 1 && recorded.every((r) => r.code === 'Ok'), 'what finished before the interrupt was sent');
    const rerun = await f.ingest([f.disks[0]!]);
    assert.equal(rerun.disks[0]!.state, 'Completed');
    assert.equal(new Set(f.storage.uploads).size, f.storage.uploads.length, 'no file uploaded twice');
  });

  it('a command whose disk another command finished meanwhile reports that disk as finished (exit 0)', async () => {
    const f = await received();
    const storage = new FaultyStorage(f.storage);
    const save = storage.save.bind(storage);
    let first = true;
    storage.save = async (key, data, options) => {
      await save(key, data, options);
      // As if another command had ingested the whole disk and finished it right now.
      if (first) f.service.patchDisk(f.jobId, 0, { state: 'Completed' });
      first = false;
    };
    const result = await f.ingest([f.disks[0]!], { storage, window: 1 });
    assert.equal(result.disks[0]!.state, 'Completed', JSON.stringify(result.disks));
    assert.match(result.disks[0]!.message, /finished by another ingest of this disk/);
    assert.equal(result.exitCode, 0);
  });

  it('two commands ingesting the same disk at once both end well and the job completes', async () => {
    const f = await received();
    const [a, b] = await Promise.all([f.ingest([f.disks[1]!, f.disks[0]!]), f.ingest([f.disks[1]!, f.disks[2]!])]);
    assert.deepEqual([a.exitCode, b.exitCode], [0, 0], JSON.stringify([a.disks, b.disks]));
    assert.equal((await f.job()).state, 'Completed');
    await assertImportHoldsStaging(f);
  });
});

describe('per-file error codes', () => {
  it('logs FileNotFound, DecryptFailed (damaged and truncated), ChecksumMismatch, PathRefused and UnexpectedFile; a disk with no good file ends Failed (exit 1)', async () => {
    const f = await received();
    const { manifest, keys } = await manifestOf(f, 0);
    assert.equal(manifest.files.length, 5);
    const [missing, damaged, cut, swapped, linked] = manifest.files;
    const file = (n: number): string => join(f.disks[0]!, ...diskFileName(n).split('/'));
    await rm(file(missing!.n));
    await flipByte(file(damaged!.n), FILE_HEADER_BYTES + 10);
    await truncate(file(cut!.n), FILE_HEADER_BYTES + 5);
    // Other bytes, sealed under the disk's own key for the same path: they authenticate, their hash is wrong.
    const other = Buffer.alloc(swapped!.size, 7);
    const fileId = Buffer.from(swapped!.fileId, 'hex');
    const segments = segmentCount(other.length, manifest.segmentSize);
    const parts: Buffer[] = [fileHeader(fileId, manifest.segmentSize)];
    for (let i = 0; i < segments; i++) {
      const start = i * manifest.segmentSize;
      const place = segmentPlace({ diskId: manifest.diskId, path: swapped!.path, fileId, size: other.length }, manifest.segmentSize, i);
      const sealed = sealSegment(keys.fileKey, other.subarray(start, start + segmentLength(other.length, manifest.segmentSize, i)), place);
      parts.push(Buffer.from(sealed.body), sealed.tag);
    }
    await writeFile(file(swapped!.n), Buffer.concat(parts));
    const outside = join(f.prep.root, 'outside.fry');
    await rename(file(linked!.n), outside);
    await symlink(outside, file(linked!.n));
    await writeFile(join(f.disks[0]!, 'files', '0000', '00000777.fry'), 'not listed');

    const result = await f.ingest([f.disks[0]!]);
    assert.equal(result.disks[0]!.state, 'Failed', JSON.stringify(result.disks));
    assert.equal(result.exitCode, 1);
    const errors = await f.service.listErrors(f.jobId);
    const byPath = new Map(errors.map((e) => [e.path, e]));
    assert.equal(byPath.get(missing!.path)?.code, 'FileNotFound');
    assert.equal(byPath.get(damaged!.path)?.code, 'DecryptFailed');
    assert.match(byPath.get(damaged!.path)!.message, /segment 0 of \d+ does not authenticate/);
    assert.equal(byPath.get(cut!.path)?.code, 'DecryptFailed');
    assert.match(byPath.get(cut!.path)!.message, /truncated/);
    assert.equal(byPath.get(swapped!.path)?.code, 'ChecksumMismatch');
    assert.equal(byPath.get(linked!.path)?.code, 'PathRefused');
    assert.match(byPath.get(linked!.path)!.message, /symbolic link/);
    assert.equal(byPath.get('files/0000/00000777.fry')?.code, 'UnexpectedFile');
    assert.ok(errors.every((e) => e.diskIndex === 0));
    // The SHA-256 check is the service's (the fake import's here): only the swapped file, which authenticates,
    // reached it, and it stored none of its bytes.
    assert.deepEqual(f.storage.uploads, [swapped!.path], 'nothing of a file that fails on the disk is uploaded');
    await assert.rejects(f.storage.inner.stat(swapped!.path), 'the service stores nothing of a file whose SHA-256 is not its name');
    assert.match(byPath.get(swapped!.path)!.message, /refused the bytes, their SHA-256 is not the manifest's/);

    const rest = await f.ingest([f.disks[1]!, f.disks[2]!]);
    assert.equal(rest.exitCode, 0);
    assert.equal(rest.job.state, 'CompletedWithErrors');
  });

  it('detects tampering with each part of a disk: reordered segments, renamed files, a file of another disk, a pack byte, another disk\'s manifest', async () => {
    const f = await received();
    const { manifest } = await manifestOf(f, 0);
    const { manifest: second } = await manifestOf(f, 1);
    const file = (disk: number, n: number): string => join(f.disks[disk]!, ...diskFileName(n).split('/'));
    // The two files of most segments are the ones whose segments are reordered and whose byte is flipped.
    const bySegments = [...manifest.files].sort((a, b) => b.size - a.size);
    const [reordered, flipped, renamedA, renamedB, foreign] = bySegments as [ManifestEntry, ManifestEntry, ManifestEntry, ManifestEntry, ManifestEntry];
    assert.ok(segmentCount(flipped.size, manifest.segmentSize) > 1, 'a file of several segments to flip a byte in');
    const record = manifest.segmentSize + TAG_BYTES;
    const bytes = await readFile(file(0, reordered.n));
    const swapped = Buffer.from(bytes);
    bytes.copy(swapped, FILE_HEADER_BYTES, FILE_HEADER_BYTES + record, FILE_HEADER_BYTES + 2 * record);
    bytes.copy(swapped, FILE_HEADER_BYTES + record, FILE_HEADER_BYTES, FILE_HEADER_BYTES + record);
    await writeFile(file(0, reordered.n), swapped);
    await rename(file(0, renamedA.n), `${file(0, renamedA.n)}.x`);
    await rename(file(0, renamedB.n), file(0, renamedA.n));
    await rename(`${file(0, renamedA.n)}.x`, file(0, renamedB.n));
    // Disk 2's first file, cut or padded to the size and given the file id this disk's entry expects.
    const other = Buffer.alloc(encryptedSize(foreign.size, manifest.segmentSize));
    (await readFile(file(1, second.files[0]!.n))).copy(other);
    Buffer.from(foreign.fileId, 'hex').copy(other, 8);
    await writeFile(file(0, foreign.n), other);
    // A byte of a segment that is only authenticated (the repository's ciphertext, in clear).
    await flipByte(file(0, flipped.n), FILE_HEADER_BYTES + 3);

    const result = await f.ingest([f.disks[0]!]);
    assert.equal(result.disks[0]!.state, 'Failed', JSON.stringify(result.disks));
    const errors = new Map((await f.service.listErrors(f.jobId)).map((e) => [e.path, e]));
    for (const entry of manifest.files) assert.equal(errors.get(entry.path)?.code, 'DecryptFailed', entry.path);
    assert.match(errors.get(reordered.path)!.message, /segments 0, 1 of \d+ do not authenticate/);
    // Files of other sizes fail on their length first, files of one size on their header's file id.
    assert.match(errors.get(renamedA.path)!.message, /header of another file|truncated or extended/);
    assert.match(errors.get(renamedB.path)!.message, /header of another file|truncated or extended/);
    assert.match(errors.get(foreign.path)!.message, /not authenticate/);
    assert.match(errors.get(flipped.path)!.message, /segment 0 of \d+ does not authenticate/);
    assert.equal(f.storage.uploads.length, 0, 'nothing of a tampered file is uploaded');

    // Disk 3 given disk 2's manifest: not the one registered for it.
    await writeFile(join(f.disks[2]!, MANIFEST_NAME), await readFile(join(f.disks[1]!, MANIFEST_NAME)));
    const refused = await f.ingest([f.disks[2]!]);
    assert.equal(refused.disks[0]!.state, 'Refused');
    assert.equal((await f.service.listErrors(f.jobId)).at(-1)?.code, 'ManifestCorrupted');
  });

  it('a disk with some good files ends CompletedWithErrors and the command exits 3', async () => {
    const f = await received();
    const { manifest } = await manifestOf(f, 1);
    await rm(join(f.disks[1]!, ...diskFileName(manifest.files[0]!.n).split('/')));
    const result = await f.ingest([f.disks[1]!]);
    assert.equal(result.disks[0]!.state, 'CompletedWithErrors');
    assert.equal(result.exitCode, 3);
    assert.equal(result.disks[0]!.filesFailed, 1);
  });

  it('refuses a folder on the way that is a symbolic link (the whole files/0000 redirected)', async () => {
    const f = await received();
    const elsewhere = join(f.prep.root, 'elsewhere');
    await cp(join(f.disks[2]!, 'files', '0000'), elsewhere, { recursive: true });
    await rm(join(f.disks[2]!, 'files', '0000'), { recursive: true });
    await symlink(elsewhere, join(f.disks[2]!, 'files', '0000'));
    const result = await f.ingest([f.disks[2]!]);
    assert.equal(result.disks[0]!.state, 'Failed');
    const errors = await f.service.listErrors(f.jobId);
    const refused = errors.filter((e) => e.code === 'PathRefused');
    assert.ok(refused.length > 0 && refused.every((e) => /files\/0000 on the disk is a symbolic link/.test(e.message)), JSON.stringify(errors));
    assert.deepEqual(errors.filter((e) => e.code !== 'PathRefused').map((e) => [e.code, e.path]), [['UnexpectedFile', 'files/0000']], 'the link itself is not part of the disk');
  });

  it('refuses a manifest entry that is not a content-named key (PathRefused) and one that escapes (ManifestCorrupted)', async () => {
    const f = await received();
    await reseal(f, 2, (m) => ({ ...m, files: m.files.map((e) => ({ ...e, path: `index/${'0'.repeat(64)}` })) }));
    const named = await f.ingest([f.disks[2]!]);
    assert.equal(named.disks[0]!.state, 'Failed');
    assert.equal((await f.service.listErrors(f.jobId))[0]?.code, 'PathRefused');

    await reseal(f, 1, (m) => ({ ...m, files: m.files.map((e, i) => (i === 0 ? { ...e, path: 'data/../../../etc/passwd' } : e)) }));
    const escaping = await f.ingest([f.disks[1]!]);
    assert.equal(escaping.disks[0]!.state, 'Refused');
    assert.match(escaping.disks[0]!.message, /breaks the format/);
    assert.equal((await f.service.listErrors(f.jobId)).at(-1)?.code, 'ManifestCorrupted');
    assert.equal(f.storage.uploads.length, 0);
  });

  it('refuses a file too large to hold in memory without reading it (UploadFailed)', async () => {
    const f = await received();
    await reseal(f, 2, (m) => ({ ...m, files: m.files.map((e) => ({ ...e, size: 2 * 1024 ** 3 })) }));
    const result = await f.ingest([f.disks[2]!]);
    assert.equal(result.disks[0]!.state, 'Failed');
    const errors = await f.service.listErrors(f.jobId);
    assert.equal(errors[0]?.code, 'UploadFailed');
    assert.match(errors[0].message, /more than ingest takes/);
  });

  it('logs UploadFailed for an upload the service refuses, and the disk still finishes', async () => {
    const f = await received();
    const storage = new FaultyStorage(f.storage);
    storage.addFault('save').errorInstead(new PermanentError('the storage account is full')).times(1);
    const result = await f.ingest([f.disks[2]!], { storage });
    assert.equal(result.disks[0]!.state, 'Failed');
    const errors = await f.service.listErrors(f.jobId);
    assert.equal(errors[0]?.code, 'UploadFailed');
    assert.match(errors[0].message, /the storage account is full/);
  });

  it('logs ChecksumMismatch when the service refuses the bytes against their name, and the disk still finishes', async () => {
    const f = await received();
    const storage = new FaultyStorage(f.storage);
    storage.addFault('save').errorInstead(new IntegrityError('the bytes do not match their name')).times(1);
    const result = await f.ingest([f.disks[2]!], { storage });
    assert.equal(result.disks[0]!.state, 'Failed');
    const errors = await f.service.listErrors(f.jobId);
    assert.equal(errors[0]?.code, 'ChecksumMismatch');
    assert.match(errors[0].message, /do not match their name/);
  });

  it('an upload that fails for a passing reason leaves the disk unfinished; the rerun clears the error', async () => {
    const f = await received();
    const storage = new FaultyStorage(f.storage);
    storage.addFault('save').errorInstead(new Error('the connection failed: ECONNRESET')).times(1);
    const first = await f.ingest([f.disks[0]!], { storage });
    assert.equal(first.disks[0]!.state, 'Stopped');
    assert.match(first.disks[0]!.message, /1 upload failed .*run the same command again to retry it/);
    assert.equal((await f.service.listErrors(f.jobId)).length, 1);
    assert.equal((await f.job()).disks[0]!.state, 'Transferring');
    const second = await f.ingest([f.disks[0]!], { storage });
    assert.equal(second.disks[0]!.state, 'Completed');
    assert.deepEqual(await f.service.listErrors(f.jobId), [], 'the retry replaced the error');
  });
});

describe('disks that are refused', () => {
  it('refuses a foreign disk, an unlabelled folder and an abandoned disk, logs each, and ingests the rest (exit 1)', async () => {
    const f = await received();
    const other = await IngestFixture.create({ data: [1000] }, 100_000, ['other-disk']);
    fixtures.push(other);
    const empty = join(f.prep.root, 'empty');
    await mkdir(empty);
    const abandoned = join(f.prep.root, 'abandoned');
    await cp(f.disks[0]!, abandoned, { recursive: true });
    const label = JSON.parse(await readFile(join(abandoned, LABEL_NAME), 'utf8')) as { diskId: string };
    await writeFile(join(abandoned, LABEL_NAME), JSON.stringify({ ...label, diskId: '00000000-0000-4000-8000-000000000000' }));

    const result = await f.ingest([other.disks[0]!, empty, abandoned, ...f.disks]);
    assert.equal(result.exitCode, 1);
    assert.deepEqual(result.disks.map((d) => d.state), ['Refused', 'Refused', 'Refused', 'Completed', 'Completed', 'Completed']);
    assert.match(result.disks[0]!.message, /another import job, "job-a"/);
    const errors = await f.service.listErrors(f.jobId);
    assert.deepEqual(errors.map((e) => e.code), ['ForeignDisk', 'UnknownDisk', 'UnknownDisk']);
    assert.equal(errors[2]!.diskIndex, 0);
    assert.equal(result.job.state, 'CompletedWithErrors', 'refused disks are in the error log');
    assert.equal(other.service.keyReleases.length + f.service.keyReleases.length, 3, 'no key released for a refused disk');
  });

  it('refuses a tampered manifest (one edited byte) before fetching its key, and a re-registered one that fails authentication', async () => {
    const f = await received();
    await flipByte(join(f.disks[1]!, MANIFEST_NAME), 40);
    const edited = await f.ingest([f.disks[1]!]);
    assert.equal(edited.disks[0]!.state, 'Refused');
    assert.match(edited.disks[0]!.message, /not the one registered/);
    assert.equal(f.service.keyReleases.length, 0);
    const bytes = await readFile(join(f.disks[1]!, MANIFEST_NAME));
    f.service.patchDisk(f.jobId, 1, { manifestSha256: createHash('sha256').update(bytes).digest('hex') });
    const unauthentic = await f.ingest([f.disks[1]!]);
    assert.equal(unauthentic.disks[0]!.state, 'Refused');
    assert.match(unauthentic.disks[0]!.message, /does not authenticate/);
    assert.deepEqual((await f.service.listErrors(f.jobId)).map((e) => e.code), ['ManifestCorrupted', 'ManifestCorrupted']);
    assert.equal(f.storage.uploads.length, 0);
  });

  it('refuses the same disk given twice in one command (ingested once)', async () => {
    const f = await received();
    const result = await f.ingest([f.disks[0]!, f.disks[0]!]);
    assert.deepEqual(result.disks.map((d) => d.state), ['Completed', 'Refused']);
    assert.match(result.disks[1]!.message, /given twice/);
  });

  it('refuses to ingest before the job is received, and a deleted job', async () => {
    const f = await IngestFixture.create(SIZES, MAX_BYTES);
    fixtures.push(f);
    await assert.rejects(f.ingest(), (err: Error) => err instanceof UserError && /ferry datacenter receive job-a/.test(err.message));
    f.service.setState(f.jobId, 'Deleted');
    await assert.rejects(f.ingest(), /deleted at its tracking deadline: its disks are refused/);
    await assert.rejects(f.service.receive(f.jobId), (err: Error & { code?: string }) => err.code === 'JOB_EXPIRED');
    assert.equal(f.service.keyReleases.length, 0);
  });
});
