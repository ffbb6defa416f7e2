// `ferry seed start` on a registered agent against a real `ferry serve`: every refusal says what is wrong
// and changes nothing; a started seed makes staging a replica of the vault, leaves the job token for the
// copy computer, and sends the next backups (and restores) to staging while the vault stays empty.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ferry, ferryOk, lastJson, makeTempDir, type TempDir } from './harness.js';
import { startServe, type ServeProcess } from './service-harness.js';

const PASSPHRASE = 'a long enough vault passphrase';

describe('ferry seed start', () => {
  let tmp: TempDir;
  let serve: ServeProcess;
  let adminToken: string;
  let acmeAdmin: string;
  let vaultId: string;
  let source: string;
  const state = (): string => join(tmp.path, 'state');
  const asAdmin = (token: string) => ({ env: { FERRY_SERVER: serve.url, FERRY_TOKEN: token } });
  const asAgent = (extra: Record<string, string> = {}) => ({ env: { FERRY_STATE_DIR: state(), FERRY_PASSWORD: PASSPHRASE, FERRY_REPOSITORY: undefined, ...extra } });
  const start = (staging: string, extra: string[] = []) =>
    ferry(['seed', 'start', '--staging', staging, '--storage-account', 'imports', '--container', 'seed-1', '--job', 'first-seed', '--paths', source, ...extra], asAgent());

  before(async () => {
    tmp = await makeTempDir('ferry-e2e-seed-');
    serve = await startServe(join(tmp.path, 'service'));
    adminToken = (await readFile(join(tmp.path, 'service', 'admin.token'), 'utf8')).trim();
    for (const tenant of ['acme', 'globex']) await ferryOk(['tenant', 'create', tenant], asAdmin(adminToken));
    await ferryOk(['storage-account', 'create', 'files', '--tenant', 'acme'], asAdmin(adminToken));
    await ferryOk(['storage-account', 'create', 'imports', '--tenant', 'acme'], asAdmin(adminToken));
    await ferryOk(['storage-account', 'create', 'foreign', '--tenant', 'globex'], asAdmin(adminToken));
    vaultId = lastJson<{ id: string }>((await ferryOk(['vault', 'create', 'fileserver', '--tenant', 'acme', '--storage-account', 'files', '--json'], asAdmin(adminToken))).stdout).id;
    acmeAdmin = lastJson<{ token: string }>((await ferryOk(['token', 'create', '--role', 'tenant-admin', '--tenant', 'acme', '--json'], asAdmin(adminToken))).stdout).token;
    const credentials = join(tmp.path, 'credentials.json');
    await ferryOk(['vault', 'credentials', 'fileserver', '--tenant', 'acme', '--out', credentials], asAdmin(adminToken));
    await ferryOk(['register', '--credentials', credentials], asAgent());
    source = join(tmp.path, 'srv');
    await mkdir(join(source, 'docs'), { recursive: true });
    await writeFile(join(source, 'docs', 'a.txt'), 'alpha\n'.repeat(5000));
    await writeFile(join(source, 'b.bin'), Buffer.alloc(200_000, 3));
  });
  after(async () => {
    await serve?.stop('SIGKILL');
    await tmp?.cleanup();
  });

  it('refuses what it cannot do, each with a clear message, and leaves nothing behind', async () => {
    const unregistered = await ferry(['seed', 'start', '--staging', join(tmp.path, 'x'), '--storage-account', 'imports', '--container', 'seed-c', '--job', 'j', '--paths', source], {
      env: { FERRY_STATE_DIR: join(tmp.path, 'nobody'), FERRY_PASSWORD: PASSPHRASE },
    });
    assert.match(unregistered.stderr, /this machine is not registered/);

    const fifo = join(tmp.path, 'a-fifo');
    execFileSync('mkfifo', [fifo]);
    const special = await ferry(['seed', 'start', '--staging', join(tmp.path, 's1'), '--storage-account', 'imports', '--container', 'seed-c', '--job', 'j', '--paths', fifo], asAgent());
    assert.match(special.stderr, /offline seeding carries files and folders/);
    const link = join(tmp.path, 'a-link');
    await symlink(source, link);
    assert.match((await start(join(tmp.path, 's2'), ['--paths', link])).stderr, /symbolic link/);

    const inside = await start(join(source, 'staging'));
    assert.match(inside.stderr, /overlap: the backup would copy itself/);

    const full = join(tmp.path, 'not-empty');
    await mkdir(full);
    await writeFile(join(full, 'x'), 'x');
    assert.match((await start(full)).stderr, /is not empty/);

    const foreign = await ferry(['seed', 'start', '--staging', join(tmp.path, 's3'), '--storage-account', 'foreign', '--container', 'seed-c', '--job', 'j', '--paths', source], asAgent());
    assert.notEqual(foreign.code, 0);
    assert.match(foreign.stderr, /storage account/);
    assert.deepEqual(await readdir(join(tmp.path, 's3')), [], 'a refused seed leaves the staging folder empty');

    const wrong = await ferry(['seed', 'start', '--staging', join(tmp.path, 's4'), '--storage-account', 'imports', '--container', 'seed-c', '--job', 'j', '--paths', source], asAgent({ FERRY_PASSWORD: 'not the vault passphrase' }));
    assert.equal(wrong.code, 12);
    assert.deepEqual(await readdir(join(tmp.path, 's4')), []);
    assert.equal((await ferryOk(['seed', 'status'], asAgent())).stdout.trim(), 'no offline seed is pending: backups go to the vault');
  });

  it('refuses a staging location without room for the sources (a 2 MiB tmpfs, as root)', async (t) => {
    const small = join(tmp.path, 'small-staging');
    await mkdir(small);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', small], { stdio: 'ignore' });
    } catch {
      t.skip('mounting a tmpfs needs root (CI runs as root)');
      return;
    }
    try {
      const big = join(tmp.path, 'big-source');
      await mkdir(big);
      await writeFile(join(big, 'large.bin'), Buffer.alloc(8 * 1024 * 1024, 1));
      const refused = await ferry(['seed', 'start', '--staging', small, '--storage-account', 'imports', '--container', 'seed-c', '--job', 'j', '--paths', big], asAgent());
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /the staging folder has .* free, the sources hold 8\.00 MiB: free space or choose a larger staging location/);
      assert.deepEqual(await readdir(small), [], 'nothing written to the staging folder');
      assert.equal((await ferryOk(['seed', 'status'], asAgent())).stdout.trim(), 'no offline seed is pending: backups go to the vault');
    } finally {
      execFileSync('umount', [small]);
    }
  });

  it('starts the seed: staging replicates the vault, holds the job token (0600), and takes the backups', async () => {
    const staging = join(tmp.path, 'staging');
    const started = await start(staging);
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stdout, /offline seed started: import job first-seed \(Creating\)/);
    const seedFile = join(staging, 'FERRY-SEED.json');
    assert.equal((await stat(seedFile)).mode & 0o777, 0o600);
    const seed = JSON.parse(await readFile(seedFile, 'utf8')) as { jobToken: string; jobName: string };
    assert.match(seed.jobToken, /^fry_job_/);
    assert.deepEqual((await readdir(staging)).sort(), ['FERRY-SEED.json', 'config', 'keys']);

    const vault = (await (await fetch(`${serve.url}/v1/vaults/${vaultId}`, { headers: { authorization: `Bearer ${acmeAdmin}` } })).json()) as { seed: { jobName: string; state: string } | null };
    assert.deepEqual({ jobName: vault.seed?.jobName, state: vault.seed?.state }, { jobName: 'first-seed', state: 'Creating' });

    const again = await start(join(tmp.path, 'staging-2'));
    assert.match(again.stderr, /an offline seed is already pending/);

    const backup = await ferryOk(['backup', source], asAgent());
    assert.match(backup.stdout, /the full backup of the offline seed went to the staging location/);
    assert.match(backup.stdout, /ferry diskprep --staging /);
    assert.equal((await readdir(join(staging, 'snapshots'))).length, 1);
    const second = await ferryOk(['backup', source], asAgent());
    assert.match(second.stdout, /this backup went to the staging location/);
    const target = join(tmp.path, 'restored');
    await ferryOk(['restore', 'latest', '--target', target], asAgent());
    assert.equal(await readFile(join(target, source, 'docs', 'a.txt'), 'utf8'), 'alpha\n'.repeat(5000));

    const listing = await (await fetch(`${serve.url}/v1/vaults/${vaultId}/objects?prefix=snapshots/`, { headers: { authorization: `Bearer ${acmeAdmin}` } })).text();
    assert.match(listing, /"count":0/, 'nothing reached the vault over the network');
    assert.match((await ferryOk(['seed', 'status'], asAgent())).stdout, /job first-seed is Creating, 0 disks/);
  });

  it('diskprep on the copy computer prepares disks against the real service; the job then ships', async () => {
    const staging = join(tmp.path, 'staging');
    const disks = [join(tmp.path, 'disk-1'), join(tmp.path, 'disk-2'), join(tmp.path, 'disk-3')];
    for (const disk of disks) await mkdir(disk);
    // The copy computer needs no registration and no passphrase: only the staging folder and the service.
    const copy = await ferry(['diskprep', '--staging', staging, ...disks.flatMap((d) => ['--disk', d]), '--max-bytes-per-disk', '1MB'], {
      env: { FERRY_STATE_DIR: join(tmp.path, 'copy-computer'), FERRY_PASSWORD: undefined, FERRY_TOKEN: undefined },
    });
    assert.equal(copy.code, 0, `${copy.stdout}\n${copy.stderr}`);
    const job = JSON.parse((await ferryOk(['job', 'show', 'first-seed', '--json'], asAdmin(acmeAdmin))).stdout) as { state: string; disks: { index: number; state: string }[] };
    assert.equal(job.state, 'Creating');
    assert.ok(job.disks.length >= 1 && job.disks.every((d) => d.state === 'Prepared'), JSON.stringify(job.disks));
    for (const disk of disks.slice(0, job.disks.length)) {
      const label = JSON.parse(await readFile(join(disk, 'FERRY-DISK.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(label.jobName ?? (label.job as { name?: string } | undefined)?.name, 'first-seed');
    }
    await ferryOk(['job', 'ship', 'first-seed', '--carrier', 'DHL', '--tracking', 'JD 0146 0012 3456', '--return-address', 'Acme, 1 Main St'], asAdmin(acmeAdmin));
    assert.match((await ferryOk(['seed', 'status'], asAgent())).stdout, /job first-seed is Shipping/);
  });
});
