import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deriveDiskSubkeys } from '../../src/seed/disk-format.js';
import { readDiskFile } from '../../src/seed/disk-reader.js';
import { verifyDisk } from '../../src/seed/disk-verifier.js';
import { SEED_FILE_NAME } from '../../src/seed/seed-file.js';
import { FakeJobServer } from '../../src/seed/testing/fake-job-server.js';
import { seededBytes } from '../../src/seed/testing/staging-fixture.js';
import { ferryOk, makeTempDir, TEST_PASSWORD, type TempDir } from './harness.js';

/**
 * A staging location as `ferry seed start` leaves it, built with the real CLI (`ferry init` and three
 * backups of random data, so it holds three packs, three index files and three snapshots), plus
 * FERRY-SEED.json naming a job of a fake job server on 127.0.0.1.
 */
export class DiskprepScene {
  readonly server = new FakeJobServer();
  jobId = '';
  jobToken = '';
  readonly staging: string;

  private constructor(readonly dir: TempDir) {
    this.staging = join(dir.path, 'staging');
  }

  static async create(backups = [1_200_000, 900_000, 1_500_000]): Promise<DiskprepScene> {
    const scene = new DiskprepScene(await makeTempDir('ferry-diskprep-e2e-'));
    await scene.server.start();
    await ferryOk(['init', '-r', scene.staging]);
    for (const [i, size] of backups.entries()) {
      const source = join(scene.dir.path, `source-${i}`);
      await mkdir(source);
      await writeFile(join(source, 'data.bin'), seededBytes(`source-${i}`, size));
      await writeFile(join(source, 'notes.txt'), `backup ${i}\n`);
      await ferryOk(['backup', '-r', scene.staging, source]);
    }
    const { job, token } = scene.server.service.createJob('seed-e2e');
    scene.jobId = job.id;
    scene.jobToken = token;
    const seed = { format: 'ferry-seed', version: 1, server: scene.server.url, jobId: job.id, jobName: job.name, jobToken: token, vault: { id: 'vault-id', name: 'vault-1' } };
    await writeFile(join(scene.staging, SEED_FILE_NAME), JSON.stringify(seed, null, 2) + '\n', { mode: 0o600 });
    return scene;
  }

  async disk(name: string): Promise<string> {
    const path = join(this.dir.path, name);
    await mkdir(path, { recursive: true });
    return path;
  }

  async cleanup(): Promise<void> {
    await this.server.stop();
    await this.dir.cleanup();
  }

  /** Every file under data/, index/ and snapshots/ of the staging location (what must be on disks). */
  async carriedFiles(): Promise<string[]> {
    const out: string[] = [];
    for (const folder of ['data', 'index', 'snapshots']) {
      for (const entry of await readdir(join(this.staging, folder), { recursive: true, withFileTypes: true })) {
        if (entry.isFile() && !entry.name.startsWith('.tmp-')) out.push(join(entry.parentPath ?? entry.path, entry.name).slice(this.staging.length + 1));
      }
    }
    return out.sort();
  }

  /** The escrowed key of disk `index`. */
  key(index: number): Buffer {
    const key = this.server.service.escrow.get(this.jobId)?.get(index);
    assert.ok(key, `no key escrowed for disk ${index + 1}`);
    return Buffer.from(key, 'base64');
  }

  /**
   * Verifies each disk (given in index order) as the datacenter will, decrypts every file and compares it
   * with the staging file; together the disks hold every carried staging file once. Returns the paths.
   */
  async assertDisks(disks: string[]): Promise<string[][]> {
    const job = await this.server.service.getJob(this.jobId);
    assert.equal(job.disks.length, disks.length, 'registered disks');
    assert.notEqual(job.preparedAt, null, 'the job is prepared');
    const all: string[] = [];
    const perDisk: string[][] = [];
    for (const [index, disk] of disks.entries()) {
      const record = job.disks.find((d) => d.index === index)!;
      const v = await verifyDisk(disk, this.key(index), { jobId: this.jobId, diskId: record.id, index, manifestSha256: record.manifestSha256 });
      assert.ok(v.ok, `disk ${index + 1}: ${JSON.stringify(v.files.filter((f) => f.status !== 'ok'))}`);
      assert.equal(v.label.count, disks.length);
      assert.deepEqual(v.extra, [], 'nothing on the disk but its files');
      const fileKey = deriveDiskSubkeys(this.key(index), record.id).fileKey;
      for (const entry of v.manifest.files) {
        assert.deepEqual(await readDiskFile(disk, record.id, fileKey, v.manifest.segmentSize, entry), await readFile(join(this.staging, entry.path)), entry.path);
      }
      const paths = v.manifest.files.map((f) => f.path);
      perDisk.push(paths);
      all.push(...paths);
    }
    assert.deepEqual(all.sort(), await this.carriedFiles());
    return perDisk;
  }

  /**
   * Scans every byte of every file on the disks for the secrets that must never be there: the disk keys
   * and their subkeys, the job token and the passphrase, raw, hex and base64 (standard and URL-safe).
   */
  async assertNoSecretsOn(disks: string[]): Promise<number> {
    const job = await this.server.service.getJob(this.jobId);
    const secrets: [string, Buffer][] = [
      ['job token', Buffer.from(this.jobToken, 'utf8')],
      ['job token secret', Buffer.from(this.jobToken.slice('fry_job_'.length), 'base64url')],
      ['passphrase', Buffer.from(TEST_PASSWORD, 'utf8')],
    ];
    for (const d of job.disks) {
      const key = this.key(d.index);
      const subkeys = deriveDiskSubkeys(key, d.id);
      secrets.push([`disk ${d.index + 1} key`, key], [`disk ${d.index + 1} file key`, subkeys.fileKey], [`disk ${d.index + 1} manifest key`, subkeys.manifestKey]);
    }
    const needles: [string, Buffer][] = [];
    for (const [what, bytes] of secrets) {
      needles.push([what, bytes]);
      for (const encoding of ['hex', 'base64', 'base64url'] as const) {
        const text = bytes.toString(encoding).replace(/=+$/, '');
        needles.push([`${what} (${encoding})`, Buffer.from(text)]);
        if (encoding === 'hex') needles.push([`${what} (HEX)`, Buffer.from(text.toUpperCase())]);
      }
    }
    let scanned = 0;
    for (const disk of disks) {
      for (const entry of await readdir(disk, { recursive: true, withFileTypes: true })) {
        if (!entry.isFile()) continue;
        const path = join(entry.parentPath ?? entry.path, entry.name);
        const bytes = await readFile(path);
        scanned += bytes.length;
        for (const [what, needle] of needles) assert.equal(bytes.indexOf(needle), -1, `${what} found in ${path}`);
      }
    }
    return scanned;
  }
}
