// The datacenter's side of offline seeding through bin/ferry against a real `ferry serve`: a staging
// repository is prepared onto three directory disks per import job (diskprep with the job token), the job
// ships, the operator receives it and ingests the disks: in every order, with damage, with foreign and
// tampered disks, and killed mid-copy then resumed. The import is checked object by object.
import assert from 'node:assert/strict';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ImportJob } from '../../src/contract/import-job.js';
import type { ErrorLogEntry } from '../../src/contract/ingest.js';
import { ferry, ferryOk, lastJson, makeTempDir, type RunResult, type TempDir } from './harness.js';
import { prepareImportJob, setUpIngestWorld, type IngestWorld, type PreparedJob } from './ingest-harness.js';
import { startServe, type ServeProcess } from './service-harness.js';

type Job = ImportJob;
type ErrorEntry = ErrorLogEntry;

describe('ferry datacenter receive and ingest', () => {
  let tmp: TempDir;
  let serve: ServeProcess;
  let world: IngestWorld;
  let tenantAdmin: string;
  let operator: string;
  let staging: string;
  let carried: string[];
  let jobs = 0;
  const as = (token: string, extra: Record<string, string> = {}) => ({ env: { FERRY_SERVER: serve.url, FERRY_TOKEN: token, ...extra } });
  const showJob = async (ref: string): Promise<Job> => lastJson<Job>((await ferryOk(['job', 'show', ref, '--json'], as(operator))).stdout);
  const errorsOf = async (ref: string): Promise<ErrorEntry[]> => lastJson<ErrorEntry[]>((await ferryOk(['job', 'errors', ref, '--json'], as(operator))).stdout);
  const ingest = (job: PreparedJob, disks: string[], extra: Record<string, string> = {}): Promise<RunResult> => ferry(['datacenter', 'ingest', job.name, ...disks.flatMap((d) => ['--disk', d])], as(operator, extra));
  /** The keys in the job's import and the size of each, as the operator lists them. */
  const importedKeys = async (job: PreparedJob): Promise<Map<string, number>> => {
    const text = await (await fetch(`${serve.url}/v1/import-jobs/${job.id}/objects?prefix=`, { headers: { authorization: `Bearer ${operator}` } })).text();
    const keys = new Map<string, number>();
    for (const line of text.trim().split('\n')) {
      const entry = JSON.parse(line) as { key?: string; size?: number };
      if (entry.key !== undefined) keys.set(entry.key, entry.size!);
    }
    return keys;
  };
  /** Every carried staging file is in the import with its bytes. */
  const assertImportHoldsStaging = async (job: PreparedJob, except: string[] = []): Promise<void> => {
    const keys = await importedKeys(job);
    assert.deepEqual([...keys.keys()].sort(), carried.filter((p) => !except.includes(p)));
    for (const path of [carried[0]!, carried.at(-1)!].filter((p) => !except.includes(p))) {
      const bytes = Buffer.from(await (await fetch(`${serve.url}/v1/import-jobs/${job.id}/objects/${path}`, { headers: { authorization: `Bearer ${operator}` } })).arrayBuffer());
      assert.deepEqual(bytes, await readFile(join(staging, path)), path);
    }
  };

  const prepareJob = (options: { receive?: boolean } = {}): Promise<PreparedJob> => prepareImportJob(serve.url, world, tmp.path, tmp.path, `seed-${++jobs}`, options);

  before(async () => {
    tmp = await makeTempDir('ferry-e2e-ingest-');
    serve = await startServe(join(tmp.path, 'service'));
    world = await setUpIngestWorld(serve.url, join(tmp.path, 'service'), tmp.path, 'ingest-e2e');
    ({ tenantAdmin, operator, staging, carried } = world);
  });
  after(async () => {
    await serve?.stop('SIGKILL');
    await tmp?.cleanup();
  });

  it('ingests a three-disk job one command per disk, each disk first, second and last once, and the job ends Completed', async () => {
    // Three orders in which every disk takes every place once (disk 1 holds many small files, the others a
    // pack each); which disk comes when is the job rules' business, property-tested over all orders in
    // src/service/jobs: here it is the command's reporting and the job's end state.
    for (const order of [[0, 1, 2], [1, 2, 0], [2, 0, 1]]) {
      const job = await prepareJob();
      for (const [step, index] of order.entries()) {
        const run = await ingest(job, [job.disks[index]!]);
        assert.equal(run.code, 0, `${order.join(',')}: ${run.stdout}\n${run.stderr}`);
        assert.match(run.stdout, new RegExp(`disk ${index + 1} +\\S+ +Completed: \\d+ files? ingested`));
        assert.match(run.stdout, new RegExp(`import job ${job.name} is ${step === 2 ? 'Completed' : 'Transferring'}`));
      }
      await assertImportHoldsStaging(job);
      const shown = await showJob(job.name);
      assert.equal(shown.state, 'Completed');
      assert.ok(shown.disks.every((d) => d.state === 'Completed' && d.progress?.filesDone === d.files), JSON.stringify(shown.disks));
    }
    const page = (await ferryOk(['job', 'show', 'seed-1'], as(operator))).stdout;
    assert.match(page, /received: +\d{4}-/);
    assert.match(page, /ingest: .* of .*\(\d+%\), \d+\/\d+ files/);
    assert.match((await ferryOk(['job', 'errors', 'seed-1'], as(operator))).stdout, /has no errors/);
  });

  it('ingests three disks in one command; a second ingest does nothing and uploads nothing', async () => {
    const job = await prepareJob();
    const run = await ingest(job, [job.disks[2]!, job.disks[0]!, job.disks[1]!]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /import job seed-\d+ is Completed\n/);
    const before = await importedKeys(job);
    const again = await ingest(job, job.disks);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((again.stdout.match(/already Completed \(this disk Completed\): nothing to do/g) ?? []).length, 3, again.stdout);
    assert.deepEqual(await importedKeys(job), before);
  });

  it('several commands at once, one of them on a disk another one also ingests, all end well', async () => {
    const job = await prepareJob();
    const runs = await Promise.all([ingest(job, [job.disks[0]!, job.disks[1]!]), ingest(job, [job.disks[2]!]), ingest(job, [job.disks[1]!])]);
    assert.deepEqual(runs.map((r) => r.code), [0, 0, 0], runs.map((r) => r.stdout + r.stderr).join('\n'));
    assert.equal((await showJob(job.name)).state, 'Completed');
    await assertImportHoldsStaging(job);
    assert.deepEqual(await errorsOf(job.name), []);
  });

  it('a corrupted and a deleted file end the job CompletedWithErrors (exit 3), and ferry job errors lists them', async () => {
    const job = await prepareJob();
    const filesOf = async (disk: string): Promise<string[]> => (await readdir(join(disk, 'files'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).sort();
    // Disk 1 holds many small files (the other two one pack each): one damaged, one deleted.
    const [damaged, deleted] = await filesOf(job.disks[0]!);
    const bytes = await readFile(damaged!);
    bytes[100] = bytes[100]! ^ 0x01;
    await writeFile(damaged!, bytes);
    await rm(deleted!);
    const run = await ingest(job, job.disks);
    assert.equal(run.code, 3, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /disk 1 +\S+ +CompletedWithErrors: \d+ files ingested \(.*\), 2 failed/);
    assert.match(run.stdout, /disk 2 +\S+ +Completed:/);
    assert.match(run.stdout, new RegExp(`import job ${job.name} is CompletedWithErrors, 2 entries in its error log: ferry job errors ${job.name}`));
    const errors = await errorsOf(job.name);
    assert.deepEqual(errors.map((e) => [e.diskIndex, e.code]).sort(), [[0, 'DecryptFailed'], [0, 'FileNotFound']]);
    assert.ok(errors.every((e) => e.path !== null && carried.includes(e.path)), JSON.stringify(errors));
    const table = (await ferryOk(['job', 'errors', job.name], as(tenantAdmin))).stdout;
    assert.match(table, /2 errors\n/);
    assert.match(table, /\s1\s+DecryptFailed\s+(data|index|snapshots)\//);
    assert.match(table, /does not authenticate/);
    assert.match(table, /\s1\s+FileNotFound\s+/);
    await assertImportHoldsStaging(job, errors.map((e) => e.path!));
  });

  it('refuses a disk of another job and a tampered manifest, logs both, and ingests the rest (exit 1)', async () => {
    const job = await prepareJob();
    const other = await prepareJob();
    const manifest = join(job.disks[1]!, 'FERRY-MANIFEST');
    const bytes = await readFile(manifest);
    bytes[30] = bytes[30]! ^ 0x80;
    await writeFile(manifest, bytes);
    const run = await ingest(job, [other.disks[0]!, ...job.disks]);
    assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stderr, new RegExp(`refused: .* of another import job, "${other.name}"`));
    assert.match(run.stderr, /refused: the manifest of disk 2 .* is not the one registered for it/);
    assert.match(run.stdout, /disk 1 +\S+ +Completed/);
    assert.match(run.stdout, /disk 3 +\S+ +Completed/);
    const errors = await errorsOf(job.name);
    assert.deepEqual(errors.map((e) => [e.diskIndex, e.code]), [[null, 'ForeignDisk'], [1, 'ManifestCorrupted']]);
    const shown = await showJob(job.name);
    assert.deepEqual(shown.disks.map((d) => d.state), ['Completed', 'Prepared', 'Completed']);
    assert.equal(shown.state, 'Transferring', 'the job waits for disk 2 (or the NeverReceived sweep)');
    assert.equal((await showJob(other.name)).state, 'Received', 'the other job is untouched');
    assert.deepEqual(await errorsOf(other.name), []);
  });

  it('refuses to ingest before the disks are received, and receiving an unshipped job', async () => {
    const job = await prepareJob({ receive: false });
    const early = await ingest(job, job.disks);
    assert.equal(early.code, 1);
    assert.match(early.stderr, new RegExp(`import job ${job.name} is Shipping: mark its disks received first: ferry datacenter receive ${job.name}`));
    await ferryOk(['datacenter', 'receive', job.name], as(operator));
    const twice = await ferry(['datacenter', 'receive', job.name], as(operator));
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /Received/);
    const notOperator = await ingest(job, job.disks, { FERRY_TOKEN: tenantAdmin });
    assert.notEqual(notOperator.code, 0);
  });

  it('resumes an ingest killed mid-copy (SIGKILL after the second upload) and uploads nothing twice', async () => {
    const job = await prepareJob();
    const killed = await ingest(job, job.disks, { FERRY_FAILPOINT: 'ingest-file-uploaded:2' });
    assert.equal(killed.code, -1, `killed by SIGKILL: ${killed.stdout}\n${killed.stderr}`);
    const between = await showJob(job.name);
    assert.equal(between.state, 'Transferring');
    // Uploads whose bodies had arrived when the ingest was killed are stored by the service a moment
    // later; the rerun skips what it finds in the import, so it starts once the import stops changing.
    let keysBetween = await importedKeys(job);
    for (let unchanged = 0, tries = 0; unchanged < 3 && tries < 50; tries++) {
      await sleep(200);
      const now = await importedKeys(job);
      unchanged = JSON.stringify([...now].sort()) === JSON.stringify([...keysBetween].sort()) ? unchanged + 1 : 0;
      keysBetween = now;
    }
    assert.ok(keysBetween.size >= 2, `two uploads reached the import: ${[...keysBetween.keys()].join(', ')}`);
    const logBeforeRerun = serve.output().stderr.length;
    const resumed = await ingest(job, job.disks);
    assert.equal(resumed.code, 0, `${resumed.stdout}\n${resumed.stderr}`);
    assert.match(resumed.stdout, new RegExp(`import job ${job.name} is Completed`));
    await assertImportHoldsStaging(job);
    assert.deepEqual(await errorsOf(job.name), []);
    // The service logs every request as it arrives (method and path). The rerun uploads each object the
    // import lacked, once, and none it held. (An upload the kill cut short is logged but stored nothing.)
    const rerunPuts = [...serve.output().stderr.slice(logBeforeRerun).matchAll(new RegExp(`"method":"PUT","url":"/v1/import-jobs/${job.id}/objects/([^"]+)"`, 'g'))].map((m) => m[1]!);
    assert.deepEqual(rerunPuts.sort(), carried.filter((key) => !keysBetween.has(key)), 'the rerun uploads what the import lacked, each once');
  });
});
