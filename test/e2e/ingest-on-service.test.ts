// The ingest on the service's host through bin/ferry: `ferry serve --ingest-root DIR` and the operator's
// `ferry datacenter ingest JOB --disk PATH --on-service`, against a real service. The disks are prepared by
// diskprep (three per job) under the ingest root; the service reads them itself and stores the import.
// Checked: the job's end state and the import object by object, the refusals (a disk outside the root, a
// relative path, the wrong role, a service without a root), a service killed mid-ingest and restarted, and
// a command interrupted (Ctrl-C) mid-ingest; each is resumed by running the same command again.
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ImportJob } from '../../src/contract/import-job.js';
import { ferry, ferryOk, lastJson, makeTempDir, type RunResult, type TempDir } from './harness.js';
import { prepareImportJob, setUpIngestWorld, type IngestWorld, type PreparedJob } from './ingest-harness.js';
import { callApi, startServe, type ServeProcess } from './service-harness.js';

describe('ferry datacenter ingest --on-service', () => {
  let tmp: TempDir;
  let serve: ServeProcess;
  let serviceDir: string;
  let disksRoot: string;
  let world: IngestWorld;
  let tenantAdmin: string;
  let operator: string;
  let staging: string;
  let carried: string[];
  let jobs = 0;
  const startService = (env: Record<string, string> = {}): Promise<ServeProcess> => startServe(serviceDir, ['--ingest-root', disksRoot], env);
  const as = (token: string, extra: Record<string, string> = {}) => ({ env: { FERRY_SERVER: serve.url, FERRY_TOKEN: token, ...extra } });
  const ingest = (job: PreparedJob, disks: string[], extra: Record<string, string> = {}): Promise<RunResult> =>
    ferry(['datacenter', 'ingest', job.name, ...disks.flatMap((d) => ['--disk', d]), '--on-service'], as(operator, extra));
  const showJob = async (ref: string): Promise<ImportJob> => lastJson<ImportJob>((await ferryOk(['job', 'show', ref, '--json'], as(operator))).stdout);
  const importedKeys = async (job: PreparedJob): Promise<string[]> => {
    const text = await (await fetch(`${serve.url}/v1/import-jobs/${job.id}/objects?prefix=`, { headers: { authorization: `Bearer ${operator}` } })).text();
    return text
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { key?: string }).key)
      .filter((key): key is string => key !== undefined)
      .sort();
  };
  /** Every carried staging file is in the import, and the first and last hold their bytes. */
  const assertImportHoldsStaging = async (job: PreparedJob): Promise<void> => {
    assert.deepEqual(await importedKeys(job), carried);
    for (const path of [carried[0]!, carried.at(-1)!]) {
      const bytes = Buffer.from(await (await fetch(`${serve.url}/v1/import-jobs/${job.id}/objects/${path}`, { headers: { authorization: `Bearer ${operator}` } })).arrayBuffer());
      assert.deepEqual(bytes, await readFile(join(staging, path)), path);
    }
  };

  /** A new import job, its three disks made under the ingest root, shipped and received. */
  const prepareJob = (): Promise<PreparedJob> => prepareImportJob(serve.url, world, tmp.path, disksRoot, `onsite-${++jobs}`);

  before(async () => {
    tmp = await makeTempDir('ferry-e2e-ingest-on-service-');
    serviceDir = join(tmp.path, 'service');
    disksRoot = join(tmp.path, 'disks');
    await mkdir(disksRoot);
    serve = await startService();
    world = await setUpIngestWorld(serve.url, serviceDir, tmp.path, 'ingest-on-service');
    ({ tenantAdmin, operator, staging, carried } = world);
  });
  after(async () => {
    await serve?.stop('SIGKILL');
    await tmp?.cleanup();
  });

  it('the service ingests the disks itself: the job ends Completed, the import holds every file, and a rerun does nothing', async () => {
    const job = await prepareJob();
    const run = await ingest(job, [job.disks[2]!, job.disks[0]!, job.disks[1]!]);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    for (const n of [1, 2, 3]) assert.match(run.stdout, new RegExp(`disk ${n} +\\S+ +Completed: \\d+ files? ingested`));
    assert.match(run.stdout, new RegExp(`import job ${job.name} is Completed\\n`));
    await assertImportHoldsStaging(job);
    const shown = await showJob(job.name);
    assert.equal(shown.state, 'Completed');
    assert.ok(shown.disks.every((d) => d.state === 'Completed' && d.progress?.filesDone === d.files), JSON.stringify(shown.disks));
    // Nothing crossed HTTP as an upload: the service logs every request, and there was no PUT.
    assert.doesNotMatch(serve.output().stderr, new RegExp(`"method":"PUT","url":"/v1/import-jobs/${job.id}/objects/`));
    const again = await ingest(job, job.disks);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((again.stdout.match(/already Completed \(this disk Completed\): nothing to do/g) ?? []).length, 3, again.stdout);
  });

  it('refuses a disk outside the ingest root, a relative path and a token that is not the operator, and ingests nothing', async () => {
    const job = await prepareJob();
    const outside = join(tmp.path, 'elsewhere');
    await cp(job.disks[0]!, outside, { recursive: true });
    const refused = await ingest(job, [outside]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`not allowed: ${outside} is not under the service's ingest root ${disksRoot}: the service reads disks only there`));
    // A link inside the root that leads out of it is refused too.
    const link = join(disksRoot, 'link-out');
    await symlink(outside, link);
    assert.match((await ingest(job, [link])).stderr, /is not under the service's ingest root/);
    const relative = await ingest(job, ['disks/x']);
    assert.equal(relative.code, 1);
    assert.match(relative.stderr, /--disk disks\/x: with --on-service give the absolute path of the disk on the service's host/);
    const missing = await ingest(job, [join(disksRoot, 'no-such-disk')]);
    assert.match(missing.stderr, /no-such-disk does not exist on the service's host: mount the disk under/);
    const notOperator = await ingest(job, job.disks, { FERRY_TOKEN: tenantAdmin });
    assert.equal(notOperator.code, 1);
    assert.match(notOperator.stderr, /not allowed/);
    assert.deepEqual(await importedKeys(job), []);
    assert.equal((await showJob(job.name)).state, 'Received');
  });

  it('a service killed mid-ingest and started again, and a command interrupted mid-ingest: the same command resumes and completes', async () => {
    const job = await prepareJob();
    // The service dies (SIGKILL) right after it stored its second file.
    await serve.stop('SIGTERM');
    serve = await startService({ FERRY_FAILPOINT: 'ingest-file-uploaded:2' });
    const cut = await ingest(job, job.disks);
    assert.equal(cut.code, 1, `${cut.stdout}\n${cut.stderr}`);
    await serve.stop('SIGKILL');
    serve = await startService();
    assert.equal((await showJob(job.name)).state, 'Transferring');
    assert.ok((await importedKeys(job)).length >= 2, 'what was stored before the kill is in the import');
    // Ctrl-C in the command as soon as the service reports a file done: the command ends 130, the job waits.
    const interrupted = await ingest(job, job.disks, { FERRY_FAILPOINT: 'service-ingest-file-reported:1', FERRY_FAILPOINT_SIGNAL: 'SIGINT' });
    assert.equal(interrupted.code, 130, `${interrupted.stdout}\n${interrupted.stderr}`);
    assert.match(interrupted.stderr, /interrupted by SIGINT/);
    assert.equal((await showJob(job.name)).state, 'Transferring');
    const resumed = await ingest(job, job.disks);
    assert.equal(resumed.code, 0, `${resumed.stdout}\n${resumed.stderr}`);
    assert.match(resumed.stdout, new RegExp(`import job ${job.name} is Completed`));
    await assertImportHoldsStaging(job);
  });

  it('a service started without --ingest-root says how to enable it', async () => {
    const dir = join(tmp.path, 'plain-service');
    const plain = await startServe(dir);
    try {
      const admin = (await readFile(join(dir, 'admin.token'), 'utf8')).trim();
      const on = { env: { FERRY_SERVER: plain.url, FERRY_TOKEN: admin } };
      await ferryOk(['tenant', 'create', 'acme'], on);
      await ferryOk(['storage-account', 'create', 'files', '--tenant', 'acme'], on);
      const vaultId = lastJson<{ id: string }>((await ferryOk(['vault', 'create', 'server', '--tenant', 'acme', '--storage-account', 'files', '--json'], on)).stdout).id;
      await callApi(plain.url, admin, 'POST', `/v1/vaults/${vaultId}/import-jobs`, { name: 'plain', storageAccount: 'files', container: 'import-plain' });
      const op = lastJson<{ token: string }>((await ferryOk(['token', 'create', '--role', 'operator', '--json'], on)).stdout).token;
      const run = await ferry(['datacenter', 'ingest', 'plain', '--disk', disksRoot, '--on-service'], { env: { FERRY_SERVER: plain.url, FERRY_TOKEN: op } });
      assert.equal(run.code, 1);
      assert.match(run.stderr, /this service reads no disks itself: its administrator starts it with --ingest-root DIR/);
    } finally {
      await plain.stop('SIGKILL');
    }
    const noFolder = await ferry(['serve', '--data-dir', join(tmp.path, 'service-3'), '--listen', '127.0.0.1:0', '--ingest-root', join(tmp.path, 'no-such-folder')]);
    assert.equal(noFolder.code, 1);
    assert.match(noFolder.stderr, /--ingest-root .*no-such-folder is not a folder: give the folder shipped disks are mounted under on this host/);
  });
});
