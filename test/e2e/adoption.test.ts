// Adoption of an offline seed end to end through bin/ferry against a real `ferry serve`: seed start,
// backups to staging, diskprep onto directory disks, shipping; the datacenter played over the operator
// routes (adoption-datacenter.ts); then the agent's next backup adopts the import and continues
// incrementally in the vault. Covers the happy path (the incremental sends only the change), a pack lost
// in transit re-sent from staging, the same with staging removed (the data is read again from the
// source), the adoption killed while it waits and resumed, and cleanup before and after adoption.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { seededBytes } from '../../src/engine/repair/testing/repair-fixture.js';
import { playDatacenter } from './adoption-datacenter.js';
import { FERRY_BIN, ferry, ferryOk, lastJson, makeTempDir, TEST_PASSWORD, type TempDir } from './harness.js';
import { startServe, type ServeProcess } from './service-harness.js';

const PASSPHRASE = 'a long enough vault passphrase';

interface Summary {
  message_type: 'summary';
  files_new: number;
  data_added: number;
  bytes_read: number;
  total_bytes_processed: number;
  snapshot_id: string;
}

/** The JSON line of `message_type` in a --json run's output. */
function jsonLine<T>(stdout: string, type: string): T {
  const line = stdout.split('\n').find((l) => l.startsWith('{') && (JSON.parse(l) as { message_type?: string }).message_type === type);
  assert.ok(line, `no ${type} line in:\n${stdout}`);
  return JSON.parse(line) as T;
}

describe('adoption of an offline seed', { timeout: 600_000 }, () => {
  let tmp: TempDir;
  let serve: ServeProcess;
  let adminToken: string;
  let acmeAdmin: string;
  let operator: string;
  const asAdmin = (token: string) => ({ env: { FERRY_SERVER: serve.url, FERRY_TOKEN: token } });

  before(async () => {
    tmp = await makeTempDir('ferry-e2e-adopt-');
    serve = await startServe(join(tmp.path, 'service'), ['--adoption-poll', '100ms']);
    adminToken = (await readFile(join(tmp.path, 'service', 'admin.token'), 'utf8')).trim();
    await ferryOk(['tenant', 'create', 'acme'], asAdmin(adminToken));
    await ferryOk(['storage-account', 'create', 'files', '--tenant', 'acme'], asAdmin(adminToken));
    await ferryOk(['storage-account', 'create', 'imports', '--tenant', 'acme'], asAdmin(adminToken));
    acmeAdmin = lastJson<{ token: string }>((await ferryOk(['token', 'create', '--role', 'tenant-admin', '--tenant', 'acme', '--json'], asAdmin(adminToken))).stdout).token;
    operator = lastJson<{ token: string }>((await ferryOk(['token', 'create', '--role', 'operator', '--json'], asAdmin(adminToken))).stdout).token;
  });
  after(async () => {
    await serve?.stop('SIGKILL');
    await tmp?.cleanup();
  });

  /** One machine with its own vault, source and seed, up to the disks being shipped. */
  class Machine {
    readonly dir: string;
    readonly source: string;
    readonly staging: string;
    jobId = '';
    constructor(readonly name: string) {
      this.dir = join(tmp.path, name);
      this.source = join(this.dir, 'srv');
      this.staging = join(this.dir, 'staging');
    }
    env(extra: Record<string, string> = {}) {
      return { env: { FERRY_STATE_DIR: join(this.dir, 'state'), FERRY_PASSWORD: PASSPHRASE, FERRY_REPOSITORY: undefined, FERRY_TOKEN: undefined, FERRY_SERVER: undefined, ...extra } };
    }
    run(args: string[], expected = 0) {
      return ferryOk(args, this.env(), expected);
    }
    /** Registers, starts the seed, takes two backups into staging (two data packs), prepares two disks and ships them. */
    async seedAndShip(): Promise<string[]> {
      await this.registerAndSeed();
      return this.prepareAndShip();
    }
    /** Registers to a new vault, starts the seed and takes two backups into staging (two data packs). */
    async registerAndSeed(): Promise<void> {
      await mkdir(join(this.source, 'docs'), { recursive: true });
      for (let i = 0; i < 4; i++) await writeFile(join(this.source, 'docs', `file-${i}.bin`), seededBytes(i + 11, 250_000));
      await ferryOk(['vault', 'create', this.name, '--tenant', 'acme', '--storage-account', 'files'], asAdmin(acmeAdmin));
      const credentials = join(this.dir, 'credentials.json');
      await ferryOk(['vault', 'credentials', this.name, '--tenant', 'acme', '--out', credentials], asAdmin(acmeAdmin));
      await this.run(['register', '--credentials', credentials]);
      await this.run(['seed', 'start', '--staging', this.staging, '--storage-account', 'imports', '--container', `seed-${this.name}`, '--job', `seed-${this.name}`, '--paths', this.source]);
      this.jobId = (JSON.parse((await this.run(['seed', 'status', '--json'])).stdout) as { jobId: string }).jobId;
      await this.run(['backup', this.source]);
      await writeFile(join(this.source, 'late.bin'), seededBytes(77, 200_000));
      await this.run(['backup', this.source]);
    }
    /** diskprep onto two directory disks, then the job ships; returns the disks that were used. */
    async prepareAndShip(): Promise<string[]> {
      const disks = [join(this.dir, 'disk-1'), join(this.dir, 'disk-2')];
      for (const disk of disks) await mkdir(disk);
      const copy = await ferry(['diskprep', '--staging', this.staging, ...disks.flatMap((d) => ['--disk', d]), '--max-bytes-per-disk', '1100KB'], {
        env: { FERRY_STATE_DIR: join(this.dir, 'copy-computer'), FERRY_PASSWORD: undefined, FERRY_TOKEN: undefined },
      });
      assert.equal(copy.code, 0, `${copy.stdout}\n${copy.stderr}`);
      await ferryOk(['job', 'ship', `seed-${this.name}`, '--carrier', 'DHL', '--tracking', `TRACK-${this.name}`, '--return-address', 'Acme, 1 Main St'], asAdmin(acmeAdmin));
      const used: string[] = [];
      for (const disk of disks) if ((await readdir(disk)).length > 0) used.push(disk);
      return used;
    }
    /** The staging key of the second backup's data pack (the smallest pack holding file data). */
    async lateDataPack(): Promise<string> {
      const packs: { key: string; size: number }[] = [];
      for (const fan of await readdir(join(this.staging, 'data'))) {
        for (const name of await readdir(join(this.staging, 'data', fan))) packs.push({ key: `data/${fan}/${name}`, size: (await stat(join(this.staging, 'data', fan, name))).size });
      }
      const data = packs.filter((p) => p.size > 100_000).sort((a, b) => a.size - b.size);
      assert.ok(data.length >= 2, JSON.stringify(packs));
      return data[0]!.key;
    }
    ingest(disks: string[], lose?: (path: string) => boolean): Promise<string> {
      return playDatacenter({ server: serve.url, operatorToken: operator, jobId: this.jobId, disks, lose });
    }
    async seedState(): Promise<{ adoptedAt?: string; seededSnapshots?: string[] } | undefined> {
      try {
        return JSON.parse(await readFile(join(this.dir, 'state', 'seed.json'), 'utf8')) as { adoptedAt?: string; seededSnapshots?: string[] };
      } catch {
        return undefined;
      }
    }
    async job(): Promise<{ state: string; adoption: { state: string; serverSideCopy: boolean } | null }> {
      return (await (await fetch(`${serve.url}/v1/import-jobs/${this.jobId}`, { headers: { authorization: `Bearer ${acmeAdmin}` } })).json()) as { state: string; adoption: { state: string; serverSideCopy: boolean } | null };
    }
    async importCount(): Promise<number> {
      let count = 0;
      for (const prefix of ['data/', 'index/', 'snapshots/']) {
        const text = await (await fetch(`${serve.url}/v1/import-jobs/${this.jobId}/objects?prefix=${prefix}`, { headers: { authorization: `Bearer ${operator}` } })).text();
        count += text.split('\n').filter((l) => l.includes('"key"')).length;
      }
      return count;
    }
  }

  it('adopts at the next backup, which sends only the change; snapshots taken while the disks travelled are uploaded; cleanup is refused before adoption and works after it', async () => {
    const m = new Machine('happy');
    const disks = await m.seedAndShip();
    const early = await m.run(['seed', 'cleanup', `seed-${m.name}`, '--yes'], 1);
    assert.match(early.stderr, /import job seed-happy is Shipping: cleanup comes after the adoption/);

    // A backup while the disks travel goes to staging, and says where the job is.
    await writeFile(join(m.source, 'travelled.txt'), 'written while the disks travelled\n');
    const travelling = await m.run(['backup', m.source]);
    assert.match(travelling.stdout, /went to the staging location .* \(import job seed-happy, Shipping\)/);
    assert.equal(await m.ingest(disks), 'Completed');
    assert.match((await m.run(['seed', 'status'])).stdout, /job seed-happy is Completed.*\n.*the next backup adopts it/);
    const refused = await m.run(['seed', 'cleanup', `seed-${m.name}`, '--yes'], 1);
    assert.match(refused.stderr, /import job seed-happy is Completed: cleanup comes after the adoption .* Run `ferry backup`: it adopts the import/);

    const change = seededBytes(99, 50_000);
    await writeFile(join(m.source, 'changed.bin'), change);
    const backup = await m.run(['backup', m.source, '--json']);
    const done = jsonLine<{ phase: string; state: string; uploaded_objects: number; seeded_snapshots: string[] }>(backup.stdout.split('\n').filter((l) => l.includes('"phase":"done"')).join('\n'), 'adoption');
    assert.equal(done.state, 'Adopted');
    assert.ok(done.uploaded_objects >= 2, 'the travelled snapshot and its index and pack were uploaded');
    assert.equal(done.seeded_snapshots.length, 3);
    const summary = jsonLine<Summary>(backup.stdout, 'summary');
    assert.equal(summary.files_new, 1);
    assert.equal(summary.bytes_read, change.length, 'only the new file was read');
    assert.ok(summary.data_added >= change.length && summary.data_added < change.length + 16_384, `data_added ${summary.data_added} ≈ the change (${change.length} bytes)`);
    assert.ok(summary.total_bytes_processed > 1_000_000);
    const adoptedJob = await m.job();
    assert.equal(adoptedJob.state, 'Adopted');
    assert.equal(adoptedJob.adoption?.serverSideCopy, true, 'fs to fs: copied inside the back end');
    assert.ok((await m.seedState())?.adoptedAt);

    const snapshots = JSON.parse((await m.run(['snapshots', '--json'])).stdout) as unknown[];
    assert.equal(snapshots.length, 4, 'two seeded, one travelled, one incremental: all in the vault');
    assert.match((await m.run(['check', '--read-data'])).stdout, /no errors/);
    assert.match((await m.run(['seed', 'status'])).stdout, /offline seed adopted .*job seed-happy is Adopted; 3 seeded snapshot\(s\)/);

    await writeFile(join(m.staging, 'notes.txt'), 'mine');
    const cleanup = await m.run(['seed', 'cleanup', `seed-${m.name}`, '--yes']);
    assert.match(cleanup.stdout, /checked 3 seeded snapshot\(s\) in the vault: whole/);
    assert.match(cleanup.stdout, /left there \(not Ferry's\): notes\.txt/);
    assert.deepEqual(await readdir(m.staging), ['notes.txt']);
    assert.equal((await m.job()).state, 'Closed');
    assert.equal(await m.importCount(), 0, 'the import is removed');
    assert.equal(await m.seedState(), undefined);
    assert.match((await m.run(['seed', 'status'])).stdout, /no offline seed is pending: backups go to the vault/);
    assert.match((await m.run(['check', '--read-data'])).stdout, /no errors/);
  });

  it('re-sends a pack lost in transit from staging: nothing is read again', async () => {
    const m = new Machine('resend');
    const disks = await m.seedAndShip();
    const lost = await m.lateDataPack();
    assert.equal(await m.ingest(disks, (path) => path === lost), 'CompletedWithErrors');
    const backup = await m.run(['backup', m.source, '--json']);
    const summary = jsonLine<Summary>(backup.stdout, 'summary');
    assert.equal(summary.bytes_read, 0, 'the lost pack came from staging, no file was read again');
    const check = jsonLine<{ not_whole: unknown[]; lost_snapshots: unknown[] }>(backup.stdout, 'adoption_check');
    assert.deepEqual(check, { message_type: 'adoption_check', lost_snapshots: [], not_whole: [] });
    assert.match((await m.run(['check', '--read-data'])).stdout, /no errors/);
  });

  it('with staging removed, reads the lost data again from the source; check --read-data of the vault passes', async () => {
    const m = new Machine('reread');
    const disks = await m.seedAndShip();
    const lost = await m.lateDataPack();
    assert.equal(await m.ingest(disks, (path) => path === lost), 'CompletedWithErrors');
    await rm(m.staging, { recursive: true });
    const backup = await m.run(['backup', m.source]);
    assert.match(backup.stderr, /1 pack\(s\) lost in transit cannot be re-sent .* the backup reads the lost data again from the source/);
    assert.match(backup.stdout, /Read: +195\.3 KiB of /, backup.stdout);
    assert.match(backup.stdout, /every snapshot in the vault is whole/);
    assert.doesNotMatch(backup.stderr, /cannot be made whole/);
    assert.match((await m.run(['check', '--read-data'])).stdout, /no errors/);
    const restored = join(m.dir, 'restored');
    await m.run(['restore', 'latest', '--target', restored]);
    assert.deepEqual(await readFile(join(restored, m.source, 'late.bin')), seededBytes(77, 200_000));
  });

  it('killed while it waits for the adoption, the agent stays on staging; the next backup finishes the adoption', async () => {
    const m = new Machine('killed');
    const disks = await m.seedAndShip();
    assert.equal(await m.ingest(disks), 'Completed');
    const killed = await killWhenWaiting(m.env().env, ['backup', m.source]);
    assert.equal(killed.signal, 'SIGKILL');
    assert.match(killed.stdout, /waiting for the service to adopt import job seed-killed/);
    assert.equal((await m.seedState())?.adoptedAt, undefined, 'never half adopted: the seed is still pending');
    assert.match((await m.run(['seed', 'status'])).stdout, /offline seed pending: job seed-killed is (Completed|Adopted)/);
    assert.match((await m.run(['snapshots'])).stdout, /2 snapshots/, 'commands still use staging');

    const resumed = await m.run(['backup', m.source]);
    assert.match(resumed.stdout, /import job seed-killed adopted/);
    assert.ok((await m.seedState())?.adoptedAt);
    assert.match((await m.run(['check', '--read-data'])).stdout, /checked 3 snapshots .*no errors/);
  });

  it('an adoption the service fails (an import object damaged at rest) leaves the seed pending and the backup on staging; fixed, the next backup adopts', async () => {
    const m = new Machine('failed');
    const disks = await m.seedAndShip();
    assert.equal(await m.ingest(disks), 'Completed');
    const stored = (await readdir(join(tmp.path, 'service'), { recursive: true })).filter((p) => p.includes(`import/${m.jobId}/data/`) && /[0-9a-f]{64}$/.test(p));
    assert.ok(stored.length > 0, 'the import is on the service\'s filesystem');
    const victim = join(tmp.path, 'service', stored[0]!);
    const original = await readFile(victim);
    const damaged = Buffer.from(original);
    damaged[damaged.length >> 1]! ^= 0x01;
    await writeFile(victim, damaged);

    const failed = await m.run(['backup', m.source]);
    assert.match(failed.stderr, /warning: the adoption of import job seed-failed did not finish: the service could not adopt import job seed-failed: .*This backup goes to the staging location/);
    assert.match(failed.stdout, /went to the staging location .*\(import job seed-failed, Completed(WithErrors)?\)/);
    assert.equal((await m.seedState())?.adoptedAt, undefined);
    assert.equal((await m.job()).adoption?.state, 'Failed');
    assert.match((await m.run(['seed', 'status'])).stdout, /adoption Failed: .*\(the next backup tries again\)/);

    await writeFile(victim, original);
    const adopted = await m.run(['backup', m.source]);
    assert.match(adopted.stdout, /import job seed-failed adopted/);
    assert.ok((await m.seedState())?.adoptedAt);
    assert.match((await m.run(['check', '--read-data'])).stdout, /checked 4 snapshots .*no errors/, 'the staging backup of the failed run was uploaded too');
  });

  it('`agent run` adopts at its scheduled backup (staging removed meanwhile), then applies retention', async () => {
    const m = new Machine('scheduled');
    const disks = await m.seedAndShip();
    assert.equal(await m.ingest(disks), 'Completed');
    await rm(m.staging, { recursive: true });
    const at = new Date(Date.now() + 2 * 3_600_000);
    const daily = `${String(at.getHours()).padStart(2, '0')}:${String(at.getMinutes()).padStart(2, '0')}`;
    await m.run(['schedule', 'set', '--paths', m.source, '--daily', daily, '--keep-daily', '7']);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...process.env, FERRY_INSECURE_TEST_KDF: '1', ...m.env({ FERRY_TEST_CLOCK_OFFSET_MS: String(3 * 3_600_000) }).env })) if (v !== undefined) env[k] = v;
    const child = spawn(process.execPath, [FERRY_BIN, 'agent', 'run'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 120_000;
    while (!/next backup at/.test(stdout) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, `agent run exited badly\nstdout: ${stdout}\nstderr: ${stderr}`);
    assert.match(stdout, /import job seed-scheduled adopted .*backups go to vault "scheduled" from now on/);
    assert.match(stdout, /backup finished/);
    assert.match(stdout, /retention: [0-9]+ scheduled snapshots kept/);
    assert.doesNotMatch(stdout, /retention waits/);
    assert.ok((await m.seedState())?.adoptedAt);
    assert.match((await m.run(['check', '--read-data'])).stdout, /checked 3 snapshots .*no errors/);
  });

  it('a cancelled job: backups stay on staging with a warning saying what to do; cleanup is refused; abandon sends backups to the vault', async () => {
    const m = new Machine('cancelled');
    await m.registerAndSeed();
    await ferryOk(['job', 'cancel', `seed-${m.name}`], asAdmin(acmeAdmin));
    const backup = await m.run(['backup', m.source]);
    assert.match(backup.stderr, /warning: import job seed-cancelled was cancelled: its disks will not be imported\. Backups keep going to the staging location .*`ferry seed abandon seed-cancelled`/);
    assert.match(backup.stdout, /went to the staging location .*\(import job seed-cancelled, Cancelled\)/);
    const cleanup = await m.run(['seed', 'cleanup', `seed-${m.name}`, '--yes'], 1);
    assert.match(cleanup.stderr, /import job seed-cancelled is Cancelled: cleanup comes after the adoption/);
    assert.match((await m.run(['seed', 'abandon', `seed-${m.name}`], 1)).stderr, /confirm with --yes/);
    const abandoned = await m.run(['seed', 'abandon', `seed-${m.name}`, '--yes']);
    assert.match(abandoned.stdout, /abandoned: backups go to the vault from now on; the staging location .* is kept/);
    const online = jsonLine<Summary>((await m.run(['backup', m.source, '--json'])).stdout, 'summary');
    assert.equal(online.bytes_read, online.total_bytes_processed, 'the first backup to the vault is a full one');
    assert.equal((JSON.parse((await m.run(['snapshots', '--json'])).stdout) as unknown[]).length, 1);
  });
});

/** Runs bin/ferry and SIGKILLs it as soon as it says it waits for the adoption. */
function killWhenWaiting(env: Record<string, string | undefined>, args: string[]): Promise<{ signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, FERRY_PASSWORD: TEST_PASSWORD, FERRY_INSECURE_TEST_KDF: '1', ...env })) if (v !== undefined) childEnv[k] = v;
  const child = spawn(process.execPath, [FERRY_BIN, ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (stdout.includes('waiting for the service to adopt')) child.kill('SIGKILL');
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('exit', (_code, signal) => resolve({ signal, stdout, stderr })));
}
