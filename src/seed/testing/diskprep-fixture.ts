import assert from 'node:assert/strict';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock } from '../../core/clock.js';
import type { Failpoints } from '../../core/failpoints.js';
import { systemRandom } from '../../core/random.js';
import { FsStorage } from '../../storage/fs/fs-storage.js';
import { deriveDiskSubkeys } from '../disk-format.js';
import { readDiskFile } from '../disk-reader.js';
import { verifyDisk } from '../disk-verifier.js';
import { runDiskprep, type DiskprepIO, type DiskprepResult } from '../diskprep.js';
import type { SeedFile } from '../seed-file.js';
import { FakeJobService } from './fake-job-service.js';
import { fillStaging, tempFolder, type StagingFile } from './staging-fixture.js';

/** A scripted DiskprepIO that records what diskprep said. */
export class ScriptedIO implements DiskprepIO {
  readonly notes: string[] = [];
  readonly asked: number[] = [];
  readonly phases: string[] = [];
  /** Answers to "next disk?", in order; undefined when they run out (not on a terminal). */
  answers: string[] = [];
  erase = false;

  async confirmErase(): Promise<boolean> {
    return this.erase;
  }
  async askNextDisk(left: { diskNumber: number }): Promise<string | undefined> {
    this.asked.push(left.diskNumber);
    return this.answers.shift();
  }
  note(message: string): void {
    this.notes.push(message);
  }
  phase(disk: { number: number }, what: string): () => void {
    this.phases.push(`${disk.number} ${what}`);
    return () => undefined;
  }
}

/** Failpoints that throw (as a crash would stop the run) at the `count`-th hit of `name`. */
export function throwingFailpoint(name: string, count = 1): Failpoints & { fired: boolean } {
  let left = count;
  const fp = {
    fired: false,
    hit(point: string): void {
      if (point === name && --left === 0) {
        fp.fired = true;
        throw new Error(`failpoint ${point}`);
      }
    },
  };
  return fp;
}

/** A staging location with files, a fake service with one job in Creating, and empty disk folders. */
export class DiskprepFixture {
  readonly service = new FakeJobService();
  readonly io = new ScriptedIO();
  files: StagingFile[] = [];
  seed!: SeedFile;
  stagingDir = '';
  staging!: FsStorage;

  private constructor(
    readonly root: string,
    readonly cleanup: () => Promise<void>,
  ) {}

  static async create(sizes: { data: number[]; index?: number[]; snapshots?: number[] }): Promise<DiskprepFixture> {
    const dir = await tempFolder('ferry-diskprep-');
    const fixture = new DiskprepFixture(dir.path, dir.cleanup);
    fixture.stagingDir = join(dir.path, 'staging');
    await mkdir(fixture.stagingDir);
    fixture.staging = new FsStorage(fixture.stagingDir);
    fixture.files = await fillStaging(fixture.staging, sizes);
    const { job, token } = fixture.service.createJob('job-a');
    fixture.seed = { format: 'ferry-seed', version: 1, server: 'http://127.0.0.1:1', jobId: job.id, jobName: job.name, jobToken: token, vault: { id: 'v1', name: 'vault-1' } };
    return fixture;
  }

  /** A new, empty disk folder. */
  async disk(name: string): Promise<string> {
    const path = join(this.root, name);
    await mkdir(path, { recursive: true });
    return path;
  }

  run(disks: string[], options: { maxBytesPerDisk?: number; failpoints?: Failpoints; segmentSize?: number; workers?: number; replaceDisk?: string } = {}): Promise<DiskprepResult> {
    return runDiskprep({
      staging: this.staging,
      stagingDir: this.stagingDir,
      seed: this.seed,
      jobs: this.service,
      disks,
      ...(options.maxBytesPerDisk !== undefined ? { maxBytesPerDisk: options.maxBytesPerDisk } : {}),
      ...(options.replaceDisk !== undefined ? { replaceDisk: options.replaceDisk } : {}),
      io: this.io,
      clock: systemClock,
      random: systemRandom,
      pid: process.pid,
      hostname: 'test-host',
      isAlive: () => false,
      resumeCommand: 'RESUME-COMMAND',
      ...(options.failpoints ? { failpoints: options.failpoints } : {}),
      segmentSize: options.segmentSize ?? 256,
      workers: options.workers ?? 0,
    });
  }

  /** The escrowed key of disk `index`. */
  key(index: number): Buffer {
    const key = this.service.escrow.get(this.seed.jobId)?.get(index);
    assert.ok(key, `no key escrowed for disk ${index + 1}`);
    return Buffer.from(key, 'base64');
  }

  /**
   * Verifies every registered disk (found at `paths` by index) as the datacenter would, decrypts every
   * file, and checks that together they hold every staging file exactly once, byte for byte.
   * Returns the paths per disk.
   */
  async assertDisksHoldStaging(paths: string[]): Promise<string[][]> {
    const job = await this.service.getJob(this.seed.jobId);
    assert.equal(job.disks.length, paths.length, 'registered disks');
    const seen = new Map<string, number>();
    const perDisk: string[][] = [];
    for (const [index, path] of paths.entries()) {
      const record = job.disks.find((d) => d.index === index)!;
      const verification = await verifyDisk(path, this.key(index), { jobId: job.id, diskId: record.id, index, manifestSha256: record.manifestSha256 });
      assert.ok(verification.ok, `disk ${index + 1} verifies: ${JSON.stringify(verification.files.filter((f) => f.status !== 'ok'))}`);
      assert.deepEqual(verification.extra, []);
      assert.equal(verification.manifest.files.length, record.files);
      const fileKey = deriveDiskSubkeys(this.key(index), record.id).fileKey;
      for (const entry of verification.manifest.files) {
        const expected = this.files.find((f) => f.path === entry.path);
        assert.ok(expected, `${entry.path} is a staging file`);
        assert.ok(!seen.has(entry.path), `${entry.path} is on disks ${seen.get(entry.path)} and ${index + 1}`);
        seen.set(entry.path, index + 1);
        assert.deepEqual(await readDiskFile(path, record.id, fileKey, verification.manifest.segmentSize, entry), expected.bytes);
      }
      perDisk.push(verification.manifest.files.map((f) => f.path));
      assert.equal(record.bytes, (await bytesWritten(join(path, 'files'))) + (await stat(join(path, 'FERRY-MANIFEST'))).size, 'bytes registered');
    }
    assert.deepEqual([...seen.keys()].sort(), this.files.map((f) => f.path).sort(), 'every staging file is on a disk');
    return perDisk;
  }
}

/** Apparent bytes of every file under `dir`. */
export async function bytesWritten(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath ?? entry.path, entry.name))).size;
  }
  return total;
}
