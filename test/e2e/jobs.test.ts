// Import jobs through bin/ferry against a real `ferry serve` with a short tracking deadline: jobs created
// and their disks reported through the API (as `ferry seed start` and `ferry diskprep` do), then shipped,
// shown, listed and cancelled with `ferry job …` by a tenant-admin, an admin and a registered machine;
// duplicate tracking numbers refused; the background sweep deleting a job that was never shipped.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ImportJob } from '../../src/contract/import-job.js';
import { ferry, ferryOk, lastJson, makeTempDir, type TempDir } from './harness.js';
import { callApi, startServe, type ServeProcess } from './service-harness.js';

interface Created {
  id: string;
  name: string;
}
type Job = ImportJob;

const DEADLINE_S = 8;

describe('import jobs end to end: ferry serve --tracking-deadline and ferry job', () => {
  let tmp: TempDir;
  let serve: ServeProcess;
  let adminToken: string;
  let acmeAdmin: string;
  const vaults: Record<string, Created> = {};
  const accounts: Record<string, Created> = {};
  const as = (token: string) => ({ env: { FERRY_SERVER: serve.url, FERRY_TOKEN: token } });
  const api = <T>(token: string, method: string, path: string, body?: unknown): Promise<T> => callApi<T>(serve.url, token, method, path, body);
  /** What `ferry seed start` does: an import job for the vault, with its job token. */
  const createJob = (token: string, vault: string, name: string, account: string) =>
    api<{ job: Job; jobToken: string }>(token, 'POST', `/v1/vaults/${vaults[vault]!.id}/import-jobs`, { name, storageAccountId: accounts[account]!.id, container: name });
  /** What `ferry diskprep` does with the job token: each disk with its key, then the report. */
  const prepare = async (jobId: string, jobToken: string, disks: number): Promise<string> => {
    for (let index = 0; index < disks; index++) {
      await api(jobToken, 'PUT', `/v1/import-jobs/${jobId}/disks/${index}`, {
        diskId: randomUUID(),
        bytes: 1_000_000,
        files: 12,
        manifestSha256: randomBytes(32).toString('hex'),
        diskKey: randomBytes(32).toString('base64'),
      });
    }
    return (await api<{ shippingAddress: string }>(jobToken, 'POST', `/v1/import-jobs/${jobId}/prepared`, { disks })).shippingAddress;
  };
  const showJson = async (ref: string, token: string, extra: string[] = []): Promise<Job> => lastJson<Job>((await ferryOk(['job', 'show', ref, '--json', ...extra], as(token))).stdout);

  before(async () => {
    tmp = await makeTempDir('ferry-e2e-jobs-');
    const dataDir = join(tmp.path, 'service');
    serve = await startServe(dataDir, ['--tracking-deadline', `${DEADLINE_S}s`, '--shipping-address', 'Ferry DC\\nDock 7\\n12345 Town']);
    adminToken = (await readFile(join(dataDir, 'admin.token'), 'utf8')).trim();
    for (const tenant of ['acme', 'globex']) await ferryOk(['tenant', 'create', tenant], as(adminToken));
    for (const [name, tenant] of [['acme-files', 'acme'], ['globex-files', 'globex']] as const) {
      accounts[name] = lastJson<Created>((await ferryOk(['storage-account', 'create', name, '--tenant', tenant, '--json'], as(adminToken))).stdout);
    }
    for (const [name, tenant, account] of [['fileserver', 'acme', 'acme-files'], ['mail', 'acme', 'acme-files'], ['archive', 'globex', 'globex-files']] as const) {
      vaults[name] = lastJson<Created>((await ferryOk(['vault', 'create', name, '--tenant', tenant, '--storage-account', account, '--json'], as(adminToken))).stdout);
    }
    acmeAdmin = lastJson<{ token: string }>((await ferryOk(['token', 'create', '--role', 'tenant-admin', '--tenant', 'acme', '--json'], as(adminToken))).stdout).token;
  });
  after(async () => {
    await serve?.stop('SIGKILL');
    await tmp.cleanup();
  });

  it('ships a job, refuses its tracking number to another, and the sweep deletes the job that was never shipped', async () => {
    const fs = await createJob(acmeAdmin, 'fileserver', 'seed-fs', 'acme-files');
    const started = Date.now();
    assert.equal(await prepare(fs.job.id, fs.jobToken, 2), 'Ferry DC\nDock 7\n12345 Town');
    const shipped = lastJson<Job>(
      (await ferryOk(['job', 'ship', 'seed-fs', '--carrier', 'UPS', '--tracking', '1Z 999 AA1 01', '--return-address', 'Acme IT\\nMain Street 1', '--json'], as(acmeAdmin))).stdout,
    );
    assert.ok(Date.now() - started < DEADLINE_S * 1000, 'shipped within the deadline');
    assert.deepEqual({ state: shipped.state, carrier: shipped.carrier, trackingNumber: shipped.trackingNumber, returnAddress: shipped.returnAddress }, {
      state: 'Shipping',
      carrier: 'UPS',
      trackingNumber: '1Z 999 AA1 01',
      returnAddress: 'Acme IT\nMain Street 1',
    });

    const shown = await showJson('seed-fs', acmeAdmin);
    assert.equal(shown.name, 'seed-fs');
    assert.equal(shown.state, 'Shipping');
    assert.equal(shown.trackingNumber, '1Z 999 AA1 01');
    assert.deepEqual(shown.disks.map((d) => [d.index, d.state]), [[0, 'Prepared'], [1, 'Prepared']]);
    assert.ok(shown.disks.every((d) => /^[0-9a-f-]{36}$/.test(d.id)));
    assert.deepEqual(shown.timeline.map((e) => e.state), ['Creating', 'Creating', 'Creating', 'Creating', 'Shipping']);
    assert.match(shown.timeline[0]!.actor, /^tenant-admin:[0-9a-f-]{36}$/);
    assert.match(shown.timeline[1]!.actor, /^job:[0-9a-f-]{36}$/);
    const page = (await ferryOk(['job', 'show', fs.job.id], as(adminToken))).stdout;
    assert.match(page, /^Import job seed-fs \(id [0-9a-f-]{36}\)\n {2}state: +Shipping\n/);
    assert.match(page, /shipped with: +UPS, tracking number 1Z 999 AA1 01/);
    assert.match(page, /return address: +Acme IT\n +Main Street 1\n/);
    assert.match(page, /Timeline:\n(.*\n){5}$/);

    // Another job may not take the same parcel, however it is spelled.
    const mail = await createJob(acmeAdmin, 'mail', 'seed-mail', 'acme-files');
    await prepare(mail.job.id, mail.jobToken, 1);
    const duplicate = await ferry(['job', 'ship', 'seed-mail', '--carrier', 'UPS', '--tracking', '1z999aa101', '--return-address', 'Acme IT'], as(acmeAdmin));
    assert.equal(duplicate.code, 1);
    assert.match(duplicate.stderr, /^ferry: tracking number "1z999aa101" is already used by another import job \(tracking numbers are compared ignoring case, spaces, hyphens and dots\)/);

    const listed = lastJson<Job[]>((await ferryOk(['job', 'list', '--json'], as(acmeAdmin))).stdout);
    assert.deepEqual(listed.map((j) => [j.name, j.state]), [['seed-fs', 'Shipping'], ['seed-mail', 'Creating']]);
    const table = (await ferryOk(['job', 'list'], as(acmeAdmin))).stdout;
    assert.match(table, /^Name +State +Disks +Tracking number +ID\nseed-fs +Shipping +2 +1Z 999 AA1 01 +[0-9a-f-]{36}\nseed-mail +Creating +1 +- +/);

    // Nobody enters carrier and tracking number for seed-mail: the service's sweep deletes it.
    let mailJob: Job | undefined;
    for (const end = Date.now() + 30_000; Date.now() < end; await sleep(250)) {
      mailJob = await api<Job>(acmeAdmin, 'GET', `/v1/import-jobs/${mail.job.id}`);
      if (mailJob.state === 'Deleted') break;
    }
    assert.equal(mailJob?.state, 'Deleted');
    assert.deepEqual(
      { actor: mailJob.timeline.at(-1)!.actor, state: mailJob.timeline.at(-1)!.state },
      { actor: 'service:deadline-sweep', state: 'Deleted' },
    );
    assert.match(serve.output().stderr, /"jobId":"[0-9a-f-]{36}".*"msg":"import job deleted: no carrier and tracking number by its tracking deadline"/);
    const late = await ferry(['job', 'ship', 'seed-mail', '--carrier', 'DHL', '--tracking', 'JD0146', '--return-address', 'Acme IT'], as(acmeAdmin));
    assert.equal(late.code, 1);
    assert.match(late.stderr, /^ferry: this job was deleted: it had no carrier and tracking number by its tracking deadline .*; its disks will be refused\n$/);
    // The shipped job is untouched by the sweep.
    assert.equal((await showJson('seed-fs', acmeAdmin)).state, 'Shipping');
  });

  it('cancels only before receipt, shows the vault’s pending seed, and asks for the tenant when a name is ambiguous', async () => {
    const seedOf = async (vault: string) => (await api<{ seed: { jobName: string; state: string } | null }>(adminToken, 'GET', `/v1/vaults/${vaults[vault]!.id}`)).seed;
    assert.deepEqual(await seedOf('fileserver'), { jobName: 'seed-fs', jobId: (await showJson('seed-fs', acmeAdmin)).id, state: 'Shipping' });
    const cancelled = lastJson<Job>((await ferryOk(['job', 'cancel', 'seed-fs', '--json'], as(acmeAdmin))).stdout);
    assert.equal(cancelled.state, 'Cancelled');
    assert.equal(await seedOf('fileserver'), null);
    const again = await ferry(['job', 'cancel', 'seed-fs'], as(acmeAdmin));
    assert.equal(again.code, 1);
    assert.equal(again.stderr, 'ferry: cannot cancel a job that is Cancelled: the job has ended\n');

    // globex has a job of the same name: an admin must say which tenant.
    const globex = await api<{ seed: unknown }>(adminToken, 'GET', `/v1/vaults/${vaults.archive!.id}`);
    assert.equal(globex.seed, null);
    await createJob(adminToken, 'archive', 'seed-fs', 'globex-files');
    const ambiguous = await ferry(['job', 'show', 'seed-fs'], as(adminToken));
    assert.equal(ambiguous.code, 1);
    assert.match(ambiguous.stderr, /^ferry: 2 import jobs are named "seed-fs" \(tenants .*\): name the tenant with --tenant T, or give the job's id\n$/);
    assert.equal((await showJson('seed-fs', adminToken, ['--tenant', 'globex'])).state, 'Creating');
    assert.equal((await showJson('seed-fs', adminToken, ['--tenant', 'acme'])).state, 'Cancelled');
    // A tenant-admin sees only its own tenant's: no ambiguity, and globex's job is out of reach.
    assert.equal((await showJson('seed-fs', acmeAdmin)).state, 'Cancelled');
    const allJobs = lastJson<Job[]>((await ferryOk(['job', 'list', '--json'], as(adminToken))).stdout);
    assert.deepEqual(allJobs.map((j) => j.name).sort(), ['seed-fs', 'seed-fs', 'seed-mail']);
  });

  it('a registered machine uses its own agent token for its vault’s job', async () => {
    const code = await api<{ registrationCode: string }>(adminToken, 'POST', `/v1/vaults/${vaults.fileserver!.id}/credentials`);
    const registration = await api<{ token: string; expiresAt: string; machine: { id: string; hostname: string } }>(adminToken, 'POST', '/v1/registrations', {
      code: code.registrationCode,
      hostname: 'fileserver-01',
    });
    const stateDir = join(tmp.path, 'agent-state');
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    const tenant = lastJson<Created[]>((await ferryOk(['tenant', 'list', '--json'], as(adminToken))).stdout).find((t) => t.name === 'acme')!;
    await writeFile(
      join(stateDir, 'agent.json'),
      JSON.stringify({
        format: 'ferry-agent',
        version: 1,
        server: serve.url,
        tenant,
        vault: vaults.fileserver,
        machine: registration.machine,
        token: registration.token,
        tokenExpiresAt: registration.expiresAt,
        registeredAt: new Date().toISOString(),
      }),
      { mode: 0o600 },
    );
    const asMachine = { env: { FERRY_STATE_DIR: stateDir, FERRY_SERVER: undefined, FERRY_TOKEN: undefined } };

    const job = await createJob(registration.token, 'fileserver', 'seed-fs-2', 'acme-files');
    await prepare(job.job.id, job.jobToken, 1);
    const listed = lastJson<Job[]>((await ferryOk(['job', 'list', '--json'], asMachine)).stdout);
    assert.deepEqual(listed.map((j) => j.name), ['seed-fs-2']);
    const shipped = lastJson<Job>((await ferryOk(['job', 'ship', 'seed-fs-2', '--carrier', 'DHL', '--tracking', 'JD 0146 0000', '--return-address', 'Acme', '--json'], asMachine)).stdout);
    assert.equal(shipped.state, 'Shipping');
    assert.match(shipped.timeline.at(-1)!.actor, /^agent:/);
    const foreign = await ferry(['job', 'show', 'seed-mail'], asMachine);
    assert.equal(foreign.code, 1);
    assert.match(foreign.stderr, /this machine's vault has no open import job "seed-mail" \(its open job is "seed-fs-2"\)/);
    const cancelled = lastJson<Job>((await ferryOk(['job', 'cancel', 'seed-fs-2', '--json'], asMachine)).stdout);
    assert.equal(cancelled.state, 'Cancelled');
  });
});
