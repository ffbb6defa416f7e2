// The offline-seeding flow end to end through bin/ferry against a real `ferry serve`, each step run as the
// role that runs it: seed start, the full backup to staging, three disks, one lost on the way and
// prepared again, shipping, receipt, ingest of a damaged disk set (a corrupted and a deleted file) →
// CompletedWithErrors, adoption at the next backup, which repairs over the network and is incremental,
// `check --read-data` of the vault, a restore identical to the source, cleanup.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ImportJob } from '../../src/contract/import-job.js';
import { ferry, ferryOk, lastJson, makeTempDir, type TempDir } from './harness.js';
import { startServe, type ServeProcess } from './service-harness.js';

const PASSPHRASE = 'a long enough vault passphrase';
const JOB = 'winter-seed';

type JobJson = ImportJob;

describe('offline seeding end to end', () => {
  let tmp: TempDir;
  let serve: ServeProcess;
  let tenantAdmin: string;
  let operator: string;
  const path = (name: string): string => join(tmp.path, name);
  const asAgent = () => ({ env: { FERRY_STATE_DIR: path('agent'), FERRY_PASSWORD: PASSPHRASE, FERRY_REPOSITORY: undefined, FERRY_TOKEN: undefined, FERRY_SERVER: undefined } });
  const asCopyComputer = () => ({ env: { FERRY_STATE_DIR: path('copy-computer'), FERRY_PASSWORD: undefined, FERRY_TOKEN: undefined, FERRY_SERVER: undefined } });
  const as = (token: string) => ({ env: { FERRY_SERVER: serve.url, FERRY_TOKEN: token, FERRY_STATE_DIR: path('nobody') } });
  let used = 0;
  /** The disk keys the operator was given: none may be anywhere in the service's data directory (issue 11, secrets at rest). */
  const diskKeys: Buffer[] = [];
  const job = async (): Promise<JobJson> => JSON.parse((await ferryOk(['job', 'show', JOB, '--json'], as(tenantAdmin))).stdout) as JobJson;
  const disks = ['disk-1', 'disk-2', 'disk-3', 'disk-4', 'disk-5', 'disk-6'];

  before(async () => {
    tmp = await makeTempDir('ferry-e2e-flow-');
    serve = await startServe(path('service'), ['--adoption-poll', '100ms']);
    const admin = (await readFile(join(path('service'), 'admin.token'), 'utf8')).trim();
    await ferryOk(['tenant', 'create', 'acme'], as(admin));
    await ferryOk(['storage-account', 'create', 'files', '--tenant', 'acme'], as(admin));
    await ferryOk(['vault', 'create', 'fileserver', '--tenant', 'acme', '--storage-account', 'files'], as(admin));
    tenantAdmin = lastJson<{ token: string }>((await ferryOk(['token', 'create', '--role', 'tenant-admin', '--tenant', 'acme', '--json'], as(admin))).stdout).token;
    operator = lastJson<{ token: string }>((await ferryOk(['token', 'create', '--role', 'operator', '--json'], as(admin))).stdout).token;
    await ferryOk(['vault', 'credentials', 'fileserver', '--tenant', 'acme', '--out', path('credentials.json')], as(admin));
    await ferryOk(['register', '--credentials', path('credentials.json')], asAgent());

    // Enough incompressible data for several packs, so the damage on the disks hits packs.
    await mkdir(path('srv/projects'), { recursive: true });
    for (let i = 0; i < 12; i++) await writeFile(path(`srv/projects/scan-${i}.bin`), randomBytes(3 * 1024 * 1024));
    for (let i = 0; i < 40; i++) await writeFile(path(`srv/projects/note-${i}.txt`), `note ${i}\n`.repeat(200 + i));
    for (const disk of [...disks, 'disk-2-new']) await mkdir(path(disk));
  });
  after(async () => {
    await serve?.stop('SIGKILL');
    await tmp?.cleanup();
  });

  it('seeds, ships three disks and prepares a lost one again', async () => {
    await ferryOk(['seed', 'start', '--staging', path('staging'), '--storage-account', 'files', '--container', 'winter-seed', '--job', JOB, '--paths', path('srv')], asAgent());
    await ferryOk(['backup', path('srv')], asAgent());
    // Room for the largest pack and a little: one pack per disk.
    const packs = (await readdir(join(path('staging'), 'data'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    const largest = Math.max(...(await Promise.all(packs.map(async (e) => (await stat(join(e.parentPath, e.name))).size))));
    const perDisk = String(Math.ceil(largest * 1.01) + 300_000);
    const prep = await ferry(['diskprep', '--staging', path('staging'), ...disks.flatMap((d) => ['--disk', path(d)]), '--max-bytes-per-disk', perDisk], asCopyComputer());
    assert.equal(prep.code, 0, prep.stderr);
    used = (await job()).disks.length;
    assert.ok(used >= 3, `${used} disks (one pack each)`);
    await ferryOk(['job', 'ship', JOB, '--carrier', 'DHL', '--tracking', 'JD 0146 0000 0001', '--return-address', 'Acme IT, 1 Main St'], as(tenantAdmin));

    // Disk 2 is lost in transit: the copy computer prepares it again from staging; the old one is refused later.
    const lost = (await job()).disks[1]!;
    const replaced = await ferry(['diskprep', '--staging', path('staging'), '--replace-disk', lost.id, '--disk', path('disk-2-new')], asCopyComputer());
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.match(replaced.stdout, /replaced: import job winter-seed/);
    const after = await job();
    assert.notEqual(after.disks[1]!.id, lost.id);
    assert.equal(after.disks[1]!.state, 'Prepared');
    await ferryOk(['job', 'ship', JOB, '--carrier', 'DHL', '--tracking', 'JD 0146 0000 0002', '--return-address', 'Acme IT, 1 Main St'], as(tenantAdmin));
  });

  it('ingests a damaged disk set: the lost disk is refused, the job ends CompletedWithErrors with the files named', async () => {
    // The largest file on disk 3 (a pack) loses a byte; the largest on the new disk 2 is deleted.
    const largest = async (disk: string): Promise<string> => {
      const files = await filesUnder(path(disk));
      const sizes = await Promise.all(files.map(async (f) => (await stat(f)).size));
      return files[sizes.indexOf(Math.max(...sizes))]!;
    };
    const corrupted = await largest('disk-3');
    const bytes = await readFile(corrupted);
    bytes[bytes.length >> 1]! ^= 0x40;
    await writeFile(corrupted, bytes);
    await rm(await largest('disk-2-new'));

    await ferryOk(['datacenter', 'receive', JOB], as(operator));
    // The operator's key release works; the keys it gives are nowhere in the database files or the data directory.
    const received = await job();
    for (const disk of received.disks) {
      const released = await fetch(`${serve.url}/v1/import-jobs/${received.id}/disks/${disk.index}/key?diskId=${disk.id}`, { headers: { authorization: `Bearer ${operator}` } });
      assert.equal(released.status, 200);
      diskKeys.push(Buffer.from(((await released.json()) as { diskKey: string }).diskKey, 'base64'));
    }
    assert.equal(diskKeys.length, used);
    assert.deepEqual(await filesHolding(path('service'), diskKeys), [], 'no disk key at rest while the job is open');
    const old = await ferry(['datacenter', 'ingest', JOB, '--disk', path('disk-2')], as(operator));
    assert.equal(old.code, 1, 'the disk that was replaced is refused');
    assert.match(old.stderr, /disk/i);
    const order = ['disk-3', 'disk-1', 'disk-2-new', ...disks.slice(3, used)];
    const ingest = await ferry(['datacenter', 'ingest', JOB, ...order.flatMap((d) => ['--disk', path(d)])], as(operator));
    // 3: a disk ended with errors; 1: a disk ended Failed (its only pack was deleted). Either way not 0.
    assert.ok(ingest.code === 3 || ingest.code === 1, `${ingest.code}\n${ingest.stdout}\n${ingest.stderr}`);
    assert.match(ingest.stderr + ingest.stdout, /ferry job errors winter-seed/);
    const state = await job();
    assert.equal(state.state, 'CompletedWithErrors');
    const errors = JSON.parse((await ferryOk(['job', 'errors', JOB, '--json'], as(tenantAdmin))).stdout) as { code: string; path: string | null }[];
    const codes = errors.map((e) => e.code).sort();
    assert.ok(codes.includes('ChecksumMismatch') || codes.includes('DecryptFailed'), codes.join());
    assert.ok(codes.includes('FileNotFound'), codes.join());
    assert.ok(codes.includes('UnknownDisk') || codes.includes('DiskIdMismatch'), `the replaced disk is logged: ${codes.join()}`);
  });

  it('the next backup adopts the import, re-sends what was lost from staging, and sends only the change', async () => {
    await writeFile(path('srv/projects/today.txt'), 'written after the disks left\n'.repeat(100));
    const backup = await ferry(['backup', path('srv'), '--json'], asAgent());
    assert.equal(backup.code, 0, `${backup.stdout}\n${backup.stderr}`);
    const summary = lastJson<{ data_added: number }>(backup.stdout);
    assert.ok(summary.data_added < 100_000, `the backup after adoption is incremental: ${summary.data_added} bytes added`);
    const adopted = await job();
    assert.equal(adopted.state, 'Adopted');
    assert.equal(adopted.adoption?.serverSideCopy, true, 'both containers are on one filesystem back end');

    const check = await ferry(['check', '--read-data'], asAgent());
    assert.equal(check.code, 0, `${check.stdout}\n${check.stderr}`);
    await ferryOk(['restore', 'latest', '--target', path('restored')], asAgent());
    assert.deepEqual(await digest(join(path('restored'), path('srv'))), await digest(path('srv')));
  });

  it('cleans up only after adoption: staging and the imported copy go, the job is Closed', async () => {
    await ferryOk(['seed', 'cleanup', JOB, '--yes'], asAgent());
    assert.equal((await job()).state, 'Closed');
    await assert.rejects(stat(join(path('staging'), 'data')), /ENOENT/);
    const next = await ferryOk(['backup', path('srv'), '--json'], asAgent());
    assert.ok(lastJson<{ data_added: number }>(next.stdout).data_added < 10_000);
    assert.deepEqual(await filesHolding(path('service'), diskKeys), [], 'no disk key at rest after the job closed');
  });
});

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(join(dir, 'files'), { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** Relative path → content hash (files), 'dir' or 'link' for every entry under `root`. */
async function digest(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(root, { recursive: true })) {
    const full = join(root, entry);
    const st = await lstat(full);
    out[relative(root, full)] = st.isFile() ? createHash('sha256').update(await readFile(full)).digest('hex') : st.isDirectory() ? 'dir' : 'other';
  }
  return out;
}

/** The files under `dir` (the database and its -wal and -shm among them) that hold any of `keys`: raw, base64, base64url or hex. */
async function filesHolding(dir: string, keys: readonly Buffer[]): Promise<string[]> {
  const needles = keys.flatMap((k) => [k, Buffer.from(k.toString('base64')), Buffer.from(k.toString('base64url')), Buffer.from(k.toString('hex'))]);
  const found: string[] = [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  assert.ok(entries.some((e) => e.name === 'ferry.sqlite'), 'the scan sees the database');
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const bytes = await readFile(join(entry.parentPath, entry.name));
    if (needles.some((n) => bytes.includes(n))) found.push(join(entry.parentPath, entry.name));
  }
  return found;
}
