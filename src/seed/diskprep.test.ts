// The diskprep state machine in-process against the fake job service: spanning, running out of disks,
// asking for more, refusing disks, crashes at every step and resumes, abandoned disks, the lock.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync, statfsSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { IntegrityError, PermanentError, UserError } from '../core/errors.js';
import { diskFileName, MANIFEST_NAME } from './disk-format.js';
import { readLabel } from './disk-label.js';
import { DISKPREP_FOLDER } from './diskprep-state.js';
import { bytesWritten, DiskprepFixture, throwingFailpoint } from './testing/diskprep-fixture.js';

// Eight 3000-byte packs and a small index and snapshot: three disks of 16,000 bytes (256-byte segments).
const SIZES = { data: [3000, 3000, 3000, 3000, 3000, 3000, 3000, 3000], index: [300], snapshots: [200] };
const MAX = 16_000;

async function withFixture(body: (f: DiskprepFixture) => Promise<void>): Promise<void> {
  const fixture = await DiskprepFixture.create(SIZES);
  try {
    await body(fixture);
  } finally {
    await fixture.cleanup();
  }
}

test('three disks by --max-bytes-per-disk: every file once, each disk within the limit, verified, registered, labelled 1…3 of 3', () =>
  withFixture(async (f) => {
    const disks = [await f.disk('d1'), await f.disk('d2'), await f.disk('d3')];
    const result = await f.run(disks, { maxBytesPerDisk: MAX });
    assert.equal(result.disks.length, 3);
    assert.equal(result.alreadyPrepared, false);
    assert.equal(result.shippingAddress, f.service.shippingAddress);
    assert.notEqual(result.job.preparedAt, null);
    await f.assertDisksHoldStaging(disks);
    for (const [index, disk] of disks.entries()) {
      assert.ok((await bytesWritten(disk)) <= MAX, `disk ${index + 1} within --max-bytes-per-disk`);
      const label = await readLabel(disk);
      assert.equal(label?.index, index);
      assert.equal(label?.count, 3);
      assert.equal(label?.job.id, f.seed.jobId);
    }
    assert.deepEqual(f.io.phases, ['1 copying', '1 verifying', '2 copying', '2 verifying', '3 copying', '3 verifying']);
    // The keys are gone from the staging location once the service holds them.
    const state = await readFile(join(f.stagingDir, DISKPREP_FOLDER, 'state.json'), 'utf8');
    assert.doesNotMatch(state, /"key"/);
    // A rerun only reports.
    const again = await f.run(disks, { maxBytesPerDisk: MAX });
    assert.equal(again.alreadyPrepared, true);
    assert.equal(f.service.calls.filter((c) => c.startsWith('POST')).length, 1);
  }));

test('the same on two crypto worker threads, with 1 KiB segments', () =>
  withFixture(async (f) => {
    const disks = [await f.disk('d1'), await f.disk('d2'), await f.disk('d3')];
    const result = await f.run(disks, { maxBytesPerDisk: MAX, workers: 2, segmentSize: 1024 });
    assert.equal(result.disks.length, 3);
    await f.assertDisksHoldStaging(disks);
  }));

test('out of disks off a terminal: stops naming what is left and the command that resumes; the rerun adds the next disks only', () =>
  withFixture(async (f) => {
    const d1 = await f.disk('d1');
    await assert.rejects(f.run([d1], { maxBytesPerDisk: MAX }), (err: Error) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, /the disks given are full: \d+ files \(\d+ bytes\) of the staging location are not on a disk yet/);
      assert.match(err.message, /RESUME-COMMAND/);
      return true;
    });
    assert.deepEqual(f.io.asked, [2]);
    let job = await f.service.getJob(f.seed.jobId);
    assert.equal(job.disks.length, 1, 'the full disk is registered');
    assert.equal(job.preparedAt, null);
    const manifestBefore = await readFile(join(d1, MANIFEST_NAME));

    const d2 = await f.disk('d2');
    const d3 = await f.disk('d3');
    const result = await f.run([d2, d3], { maxBytesPerDisk: MAX });
    assert.equal(result.disks.length, 3);
    await f.assertDisksHoldStaging([d1, d2, d3]);
    assert.deepEqual(await readFile(join(d1, MANIFEST_NAME)), manifestBefore, 'disk 1 is not written again');
    assert.deepEqual(f.service.calls.filter((c) => c.startsWith('PUT')).map((c) => c.split(' ')[2]), ['0', '1', '2']);
    job = await f.service.getJob(f.seed.jobId);
    assert.equal((await readLabel(d1))?.count, 3, 'disk 1 learns the count when it is still attached');
  }));

test('asked for the next disk: wrong answers are explained and asked again; the run finishes', () =>
  withFixture(async (f) => {
    const [d1, d2, d3] = [await f.disk('d1'), await f.disk('d2'), await f.disk('d3')];
    f.io.answers = [join(f.root, 'missing'), d1, join(f.stagingDir, 'data'), d2, d3];
    const result = await f.run([d1], { maxBytesPerDisk: MAX });
    assert.equal(result.disks.length, 3);
    assert.deepEqual(f.io.asked, [2, 2, 2, 2, 3]);
    assert.ok(f.io.notes.some((n) => /does not exist/.test(n)));
    assert.ok(f.io.notes.some((n) => /is disk 1 of this job, already prepared/.test(n)));
    assert.ok(f.io.notes.some((n) => /inside the staging location/.test(n)));
    await f.assertDisksHoldStaging([d1, d2, d3]);
  }));

test('a non-empty disk is refused unless confirmed; confirmed, it is erased except a fresh file system\'s entries', () =>
  withFixture(async (f) => {
    const disk = await f.disk('used');
    await writeFile(join(disk, 'holiday.jpg'), 'precious');
    await mkdir(join(disk, 'lost+found'));
    await assert.rejects(f.run([disk]), /the disk .*used is not empty \(it holds holiday\.jpg\): give an empty disk, or confirm .*--yes/);
    assert.equal(await readFile(join(disk, 'holiday.jpg'), 'utf8'), 'precious', 'nothing touched');
    assert.equal(f.service.calls.filter((c) => c.startsWith('PUT')).length, 0);

    f.io.erase = true;
    const result = await f.run([disk]);
    assert.equal(result.disks.length, 1);
    await assert.rejects(readFile(join(disk, 'holiday.jpg')), { code: 'ENOENT' });
    assert.ok((await stat(join(disk, 'lost+found'))).isDirectory(), 'lost+found is left alone');
    await f.assertDisksHoldStaging([disk]);
  }));

test('a disk that is, contains or is inside the staging location is refused before anything happens', () =>
  withFixture(async (f) => {
    const inside = join(f.stagingDir, 'disk');
    await mkdir(inside);
    await assert.rejects(f.run([inside]), /inside the staging location/);
    await assert.rejects(f.run([f.stagingDir]), /is the staging location/);
    await assert.rejects(f.run([f.root]), /contains the staging location/);
    const d1 = await f.disk('d1');
    await assert.rejects(f.run([d1, `${d1}/`]), /given twice/);
    assert.deepEqual(f.service.calls.filter((c) => !c.startsWith('GET')), []);
  }));

for (const point of ['diskprep-file-copied', 'diskprep-sealed', 'diskprep-verified', 'diskprep-disk-put', 'diskprep-registered', 'diskprep-prepared']) {
  for (const nth of point === 'diskprep-file-copied' ? [1, 4, 6] : point === 'diskprep-prepared' ? [1] : [1, 2]) {
    test(`stopped at ${point} #${nth} and run again: ends with every disk verified and the job prepared once`, () =>
      withFixture(async (f) => {
        const disks = [await f.disk('d1'), await f.disk('d2'), await f.disk('d3')];
        const failpoint = throwingFailpoint(point, nth);
        await assert.rejects(f.run(disks, { maxBytesPerDisk: MAX, failpoints: failpoint }), /failpoint/);
        assert.ok(failpoint.fired);
        const result = await f.run(disks, { maxBytesPerDisk: MAX });
        assert.equal(result.disks.length, 3);
        await f.assertDisksHoldStaging(disks);
        assert.equal(f.service.calls.filter((c) => c.startsWith('POST')).length, 1);
      }));
  }
}

test('resuming re-verifies what the journal says is on the disk: a file damaged meanwhile is copied again', () =>
  withFixture(async (f) => {
    const disks = [await f.disk('d1'), await f.disk('d2'), await f.disk('d3')];
    // Stops after the third file of disk 1 was written and journalled.
    await assert.rejects(f.run(disks, { maxBytesPerDisk: MAX, failpoints: throwingFailpoint('diskprep-file-copied', 3) }));
    const victim = join(disks[0]!, diskFileName(1));
    const bytes = await readFile(victim);
    bytes[bytes.length - 5]! ^= 0xff;
    await writeFile(victim, bytes);
    await rm(join(disks[0]!, diskFileName(2)));
    await f.run(disks, { maxBytesPerDisk: MAX });
    assert.ok(f.io.notes.some((n) => /disk 1: 2 of 3 files written before the interruption did not verify and are copied again/.test(n)), f.io.notes.join('\n'));
    assert.ok(f.io.phases.includes('1 checking'));
    await f.assertDisksHoldStaging(disks);
  }));

test('an unfinished disk that is not given again is abandoned: the next disk takes its index, the service record is replaced', () =>
  withFixture(async (f) => {
    const [d1, d2, d3, d4] = [await f.disk('d1'), await f.disk('d2'), await f.disk('d3'), await f.disk('d4')];
    // Disk 2 was put to the service but the run died before it recorded that.
    await assert.rejects(f.run([d1, d2, d3], { maxBytesPerDisk: MAX, failpoints: throwingFailpoint('diskprep-disk-put', 2) }));
    const firstId = (await f.service.getJob(f.seed.jobId)).disks[1]!.id;
    const result = await f.run([d1, d3, d4], { maxBytesPerDisk: MAX });
    assert.ok(f.io.notes.some((n) => /disk 2 .* was not finished and is not among the disks given/.test(n)));
    assert.equal(result.disks.length, 3);
    const job = await f.service.getJob(f.seed.jobId);
    assert.notEqual(job.disks[1]!.id, firstId, 'disk index 1 now names the replacement');
    await f.assertDisksHoldStaging([d1, d3, d4]);
    // The abandoned disk still carries its old label: given again, it counts as not empty.
    assert.equal((await readLabel(d2))?.index, 1);
  }));

test('a disk prepared earlier and changed since is refused when given again', () =>
  withFixture(async (f) => {
    const d1 = await f.disk('d1');
    await assert.rejects(f.run([d1], { maxBytesPerDisk: MAX }), /disks given are full/);
    const manifest = await readFile(join(d1, MANIFEST_NAME));
    manifest[30]! ^= 1;
    await writeFile(join(d1, MANIFEST_NAME), manifest);
    await assert.rejects(f.run([d1, await f.disk('d2')], { maxBytesPerDisk: MAX }), /was changed after it was prepared/);
  }));

test('a disk that fails its read-back verification is not registered and not reported ready', () =>
  withFixture(async (f) => {
    const d1 = await f.disk('d1');
    // Damage a file between sealing and verification.
    const failpoints = {
      hit(point: string): void {
        if (point === 'diskprep-sealed') throw new Error('failpoint diskprep-sealed');
      },
    };
    await assert.rejects(f.run([d1], { failpoints }));
    const victim = join(d1, diskFileName(0));
    const bytes = await readFile(victim);
    bytes[40]! ^= 1;
    await writeFile(victim, bytes);
    await assert.rejects(f.run([d1]), (err: Error) => err instanceof IntegrityError && /failed its read-back verification: 1 of \d+ files are damaged .*damaged\)/.test(err.message));
    assert.equal((await f.service.getJob(f.seed.jobId)).disks.length, 0);
    // Another disk in its place takes over.
    const d2 = await f.disk('d2');
    await f.run([d2]);
    await f.assertDisksHoldStaging([d2]);
  }));

test('refusals: another diskprep holding the lock, a job past Creating, a staging without a snapshot, a file too large for an empty disk', async () => {
  await withFixture(async (f) => {
    await mkdir(join(f.stagingDir, DISKPREP_FOLDER), { recursive: true });
    await writeFile(join(f.stagingDir, DISKPREP_FOLDER, 'lock'), JSON.stringify({ pid: 4242, hostname: 'other-host', startedAt: 'then' }));
    await assert.rejects(f.run([await f.disk('d1')]), /another ferry diskprep \(process 4242 on other-host, started then\)/);
    await rm(join(f.stagingDir, DISKPREP_FOLDER, 'lock'));
    // A lock left by a dead process of this host is taken over.
    await writeFile(join(f.stagingDir, DISKPREP_FOLDER, 'lock'), JSON.stringify({ pid: 4242, hostname: 'test-host', startedAt: 'then' }));
    await assert.rejects(f.run([await f.disk('d1')], { maxBytesPerDisk: 5000 }), /data\/\S+ \(3000 bytes\) does not fit on one disk within --max-bytes-per-disk 5000; a file is never split/);
    f.service.setState(f.seed.jobId, 'Cancelled');
    await assert.rejects(f.run([await f.disk('d1')]), /import job job-a takes no more disks: it is Cancelled/);
  });
  const empty = await DiskprepFixture.create({ data: [], index: [], snapshots: [] });
  try {
    await assert.rejects(empty.run([await empty.disk('d1')]), /holds no snapshot yet/);
  } finally {
    await empty.cleanup();
  }
});

test('a disk that fails under diskprep (a system error) is named with what to do; the rerun recovers', () =>
  withFixture(async (f) => {
    const d1 = await f.disk('d1');
    let blocked = false;
    const blockFolder = {
      hit(point: string): void {
        if (point !== 'diskprep-segments-written' || blocked) return;
        blocked = true;
        // The folder of the files turns into a file: the next file cannot be created (ENOTDIR).
        rmSync(join(d1, 'files', '0000'), { recursive: true, force: true });
        writeFileSync(join(d1, 'files', '0000'), 'in the way');
      },
    };
    await assert.rejects(f.run([d1], { failpoints: blockFolder }), (err: Error) => {
      assert.ok(err instanceof PermanentError, String(err));
      assert.match(err.message, /^disk 1 \(.*d1\): .*ENOTDIR.*run the same command again; or give another disk in its place$/);
      return true;
    });
    await rm(join(d1, 'files', '0000'));
    await f.run([d1]);
    assert.ok(f.io.notes.some((n) => /files written before the interruption did not verify and are copied again/.test(n)));
    await f.assertDisksHoldStaging([d1]);
  }));

test('a disk that fills up sooner than its free space said is sealed with what it holds; the rest goes onto the next disk', async (t) => {
  const fixture = await DiskprepFixture.create(SIZES);
  const small = await fixture.disk('tmpfs');
  try {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', small], { stdio: 'ignore' });
    } catch {
      t.skip('mounting a tmpfs needs root (CI runs as root)');
      return;
    }
    try {
      const d2 = await fixture.disk('d2');
      let filled = false;
      // After the first file's segments are written, something else takes all but 12 KiB of the disk.
      const fillUp = {
        hit(point: string): void {
          if (point !== 'diskprep-segments-written' || filled) return;
          filled = true;
          const fs = statfsSync(small);
          writeFileSync(join(small, 'someone-elses.bin'), Buffer.alloc(fs.bavail * fs.bsize - 3 * fs.bsize));
        },
      };
      const result = await fixture.run([small, d2], { failpoints: fillUp });
      assert.ok(fixture.io.notes.some((n) => /disk 1 is full sooner than its free space said: the \d+ files that did not fit go onto the next disk/.test(n)), fixture.io.notes.join('\n'));
      assert.equal(result.disks.length, 2);
      const perDisk = await fixture.assertDisksHoldStaging([small, d2]);
      assert.ok(perDisk[0]!.length >= 1 && perDisk[1]!.length >= 1);
    } finally {
      execFileSync('umount', [small]);
    }
  } finally {
    await fixture.cleanup();
  }
});

test('files removed from staging after the listing are skipped with a note', () =>
  withFixture(async (f) => {
    const d1 = await f.disk('d1');
    const victim = f.files.find((file) => file.path.startsWith('data/'))!;
    const original = f.staging.list.bind(f.staging);
    let removed = false;
    // Remove the file right after diskprep listed data/.
    f.staging.list = async (prefix, onObject) => {
      await original(prefix, onObject);
      if (prefix === 'data/' && !removed) {
        removed = true;
        await f.staging.remove(victim.path);
      }
    };
    const result = await f.run([d1]);
    assert.deepEqual(result.vanished, [victim.path]);
    assert.ok(f.io.notes.some((n) => n.includes(`${victim.path} was removed from the staging location`)));
    f.files = f.files.filter((file) => file !== victim);
    await f.assertDisksHoldStaging([d1]);
  }));

test('--replace-disk: a lost disk is prepared again onto a new disk with a new id and key, in its place; only while it has not arrived', () =>
  withFixture(async (f) => {
    const disks = [await f.disk('d1'), await f.disk('d2'), await f.disk('d3')];
    await f.run(disks, { maxBytesPerDisk: MAX });
    f.service.setState(f.seed.jobId, 'Shipping');
    const before = await f.service.getJob(f.seed.jobId);
    const lost = before.disks[1]!;
    const oldKey = f.key(1);
    const pathsBefore = await f.assertDisksHoldStaging(disks);

    const small = await f.disk('small');
    await assert.rejects(f.run([small], { maxBytesPerDisk: 2000, replaceDisk: lost.id }), /does not fit|too small/);
    const replacement = await f.disk('replacement');
    await writeFile(join(replacement, 'old-photos.jpg'), 'x');
    await assert.rejects(f.run([replacement], { replaceDisk: lost.id }), /not empty/);
    await rm(join(replacement, 'old-photos.jpg'));
    await assert.rejects(f.run([replacement, small], { replaceDisk: lost.id }), /exactly one --disk/);
    await assert.rejects(f.run([disks[1]!], { replaceDisk: lost.id, maxBytesPerDisk: MAX }), /is the disk being replaced/);
    await assert.rejects(f.run([replacement], { replaceDisk: '7' }), /has no disk 7: its disks are 1 \(/);

    // Interrupted after the second file and after sealing: the same command carries on each time.
    await assert.rejects(f.run([replacement], { replaceDisk: lost.id, maxBytesPerDisk: MAX, failpoints: throwingFailpoint('diskprep-file-copied', 2) }), /failpoint/);
    await assert.rejects(f.run([replacement], { replaceDisk: lost.id, maxBytesPerDisk: MAX, failpoints: throwingFailpoint('diskprep-sealed') }), /failpoint/);
    assert.equal((await f.service.getJob(f.seed.jobId)).disks[1]!.id, lost.id, 'the lost disk stays registered until the new one is ready');
    const result = await f.run([replacement], { replaceDisk: lost.id, maxBytesPerDisk: MAX });
    assert.equal(result.alreadyPrepared, false);
    const after = await f.service.getJob(f.seed.jobId);
    assert.notEqual(after.disks[1]!.id, lost.id, 'a new disk id');
    assert.equal(after.disks[1]!.state, 'Prepared');
    assert.notDeepEqual(f.key(1), oldKey, 'a new disk key');
    const label = await readLabel(replacement);
    assert.deepEqual([label?.index, label?.count, label?.diskId], [1, 3, after.disks[1]!.id]);
    const pathsAfter = await f.assertDisksHoldStaging([disks[0]!, replacement, disks[2]!]);
    assert.deepEqual(pathsAfter[1], pathsBefore[1], 'the same files as the lost disk');
    const state = await readFile(join(f.stagingDir, DISKPREP_FOLDER, 'state.json'), 'utf8');
    assert.doesNotMatch(state, /"key"/, 'the new key is not kept once the service holds it');

    // The same command again only reports; a disk that arrived cannot be replaced.
    const again = await f.run([replacement], { replaceDisk: lost.id });
    assert.equal(again.alreadyPrepared, true);
    assert.match(f.io.notes.join('\n'), /disk 2 was already replaced/);
    f.service.setState(f.seed.jobId, 'Completed');
    await assert.rejects(f.run([await f.disk('another')], { replaceDisk: '3' }), /import job .* is Completed: disks can be replaced only until its ingest has finished/);
  }));

test('--replace-disk before the disks are all prepared is refused with what to do', () =>
  withFixture(async (f) => {
    const d1 = await f.disk('d1');
    await assert.rejects(f.run([d1], { maxBytesPerDisk: MAX }), /the disks given are full/);
    await assert.rejects(f.run([await f.disk('r')], { replaceDisk: '1' }), /are not all prepared yet: finish them with `ferry diskprep` \(without --replace-disk\) first/);
  }));
