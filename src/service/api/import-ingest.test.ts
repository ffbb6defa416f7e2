import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { ImportDiskProgress, ImportJob, ImportJobDisk } from '../../contract/import-job.js';
import type { ErrorLogEntry } from '../../contract/ingest.js';
import { markNeverReceivedDisks } from '../jobs/deadline-sweep.js';
import { changeImportJob } from '../jobs/job-store.js';
import { TEST_ACTOR, diskRegistration, driveJob, prepareDisks, storeOf } from '../testing/import-job-fixtures.js';
import { expectStatus, injectAs, startServiceFixture, type ServiceFixture } from '../testing/service-fixture.js';
import { buildWorld, type World } from '../testing/world.js';

const DAY_MS = 86_400_000;
const SHA = (n: number): string => n.toString(16).padStart(64, '0');

let f: ServiceFixture;
let w: World;
let operatorTokenId: string;
beforeEach(async () => {
  f = await startServiceFixture();
  w = await buildWorld(f);
  operatorTokenId = (await call(w.operatorToken, 'GET', '/v1/whoami')).json<{ tokenId: string }>().tokenId;
});
afterEach(() => f.close());

function call(token: string | undefined, method: InjectOptions['method'], url: string, payload?: unknown): Promise<LightMyRequestResponse> {
  return injectAs(f, token, method, url, payload);
}
const jobUrl = (rest = ''): string => `/v1/import-jobs/${w.jobId}${rest}`;
const getJob = async (): Promise<ImportJob> => (await call(w.adminToken, 'GET', jobUrl())).json<ImportJob>();
const disk = (index: number): ReturnType<typeof diskRegistration> => diskRegistration(index, w.jobId);
const op = (method: InjectOptions['method'], rest: string, payload?: unknown): Promise<LightMyRequestResponse> => call(w.operatorToken, method, jobUrl(rest), payload);
const ingest = (index: number, body = { diskId: disk(index).diskId, manifestSha256: disk(index).manifestSha256 }): Promise<LightMyRequestResponse> => op('POST', `/disks/${index}/ingest`, body);
const ok = (path: string, size = 10): object => ({ path, size, sha256: SHA(size), code: 'Ok', message: null });
const bad = (path: string, code: string, message: string | null = null): object => ({ path, size: 10, sha256: null, code, message });
const results = (index: number, list: object[], progress = { bytesDone: 100, filesDone: list.length }): Promise<LightMyRequestResponse> => op('POST', `/disks/${index}/results`, { results: list, progress });
const errorLog = async (token = w.adminToken): Promise<ErrorLogEntry[]> => (await call(token, 'GET', jobUrl('/errors'))).json<{ errors: ErrorLogEntry[] }>().errors;

/** The world's job with `disks` disks (disk i has 10 + i files), driven to `state`. */
async function jobIn(state: 'Creating' | 'Shipping' | 'Received' | 'Transferring', disks = 1): Promise<void> {
  await prepareDisks(f, w.jobId, disks);
  if (state !== 'Creating') await driveJob(f, w.jobId, state);
}

describe('receiving', () => {
  it('an operator (or admin) receives a shipped job: Received, with the time and the actor on the timeline', async () => {
    await jobIn('Shipping');
    const shippedAt = (await getJob()).shippedAt;
    assert.equal(shippedAt, new Date(f.clock.now()).toISOString());
    f.clock.advance(60_000);
    const received = await op('POST', '/receive', {});
    expectStatus(received, 200);
    const job = received.json<ImportJob>();
    assert.equal(job.state, 'Received');
    assert.equal(job.receivedAt, new Date(f.clock.now()).toISOString());
    assert.equal(job.shippedAt, shippedAt);
    assert.deepEqual(job.timeline.at(-1), { at: job.receivedAt, state: 'Received', actor: `operator:${operatorTokenId}`, note: 'the disks arrived at the datacenter' });
    const again = await op('POST', '/receive', {});
    expectStatus(again, 409, 'ILLEGAL_TRANSITION');
  });

  it('refuses deleted (JOB_EXPIRED), cancelled and unshipped jobs, and changes nothing', async () => {
    const unshipped = await op('POST', '/receive');
    expectStatus(unshipped, 409, 'ILLEGAL_TRANSITION');
    assert.match(unshipped.json<{ message: string }>().message, /never shipped/);
    await prepareDisks(f, w.jobId, 1);
    f.clock.advance(14 * DAY_MS);
    await changeImportJob(storeOf(f), w.jobId, { kind: 'expire' }, TEST_ACTOR);
    const before = await getJob();
    const deleted = await call(w.adminToken, 'POST', jobUrl('/receive'), {});
    expectStatus(deleted, 409, 'JOB_EXPIRED');
    assert.match(deleted.json<{ message: string }>().message, /deleted at its tracking deadline .*: its disks are refused/);
    assert.deepEqual(await getJob(), before);
  });
});

describe('disk keys', () => {
  it('are released to operators only while the job is Received or Transferring, each release on the timeline', async () => {
    await jobIn('Shipping');
    expectStatus(await op('GET', `/disks/0/key?diskId=${disk(0).diskId}`), 409, 'ILLEGAL_TRANSITION');
    await op('POST', '/receive');
    const released = await op('GET', `/disks/0/key?diskId=${disk(0).diskId}`);
    expectStatus(released, 200);
    assert.deepEqual(released.json(), { diskId: disk(0).diskId, diskKey: disk(0).diskKey });
    assert.equal(released.headers['cache-control'], 'no-store');
    const job = await getJob();
    assert.equal(job.disks[0]!.state, 'Received', 'the disk was presented at the datacenter');
    assert.equal(job.timeline.at(-1)!.note, `disk key of disk 0 released to operator ${operatorTokenId}`);
    expectStatus(await op('GET', `/disks/0/key?diskId=${disk(0).diskId}`), 200);
    assert.equal((await getJob()).timeline.filter((e) => e.note?.startsWith('disk key of disk 0')).length, 2, 'every release is recorded');
  });

  it('refuses a disk id that is not the registered one (DISK_ID_MISMATCH) and logs it', async () => {
    await jobIn('Received', 2);
    const wrong = await op('GET', `/disks/0/key?diskId=${disk(1).diskId}`);
    expectStatus(wrong, 409, 'DISK_ID_MISMATCH');
    assert.match(wrong.json<{ message: string }>().message, /disk 0 of this job has id .*, not .*: the disk presented is not the one diskprep registered/);
    expectStatus(await op('GET', `/disks/5/key?diskId=${disk(0).diskId}`), 409, 'DISK_ID_MISMATCH');
    const log = await errorLog();
    assert.deepEqual(log.map((e) => [e.diskIndex, e.path, e.code]), [[0, null, 'DiskIdMismatch'], [5, null, 'DiskIdMismatch']]);
    assert.equal((await getJob()).errorCount, 2);
    expectStatus(await op('GET', '/disks/0/key?diskId=nope'), 400, 'INVALID_REQUEST');
  });
});

describe('ingesting a disk', () => {
  it('starts: disk and job Transferring, progress started; a resumed start answers the files already done', async () => {
    await jobIn('Received', 2);
    f.clock.advance(1000);
    const started = await ingest(0);
    expectStatus(started, 200);
    const body = started.json<{ job: ImportJob; finished: boolean; done: unknown[] }>();
    assert.equal(body.job.state, 'Transferring');
    assert.deepEqual(body.job.disks.map((d) => d.state), ['Transferring', 'Prepared']);
    const at = new Date(f.clock.now()).toISOString();
    assert.deepEqual(body.job.disks[0]!.progress, { bytesDone: 0, filesDone: 0, filesFailed: 0, startedAt: at, updatedAt: at });
    assert.equal(body.job.disks[1]!.progress, null);
    assert.deepEqual({ finished: body.finished, done: body.done }, { finished: false, done: [] });
    assert.equal(body.job.timeline.at(-1)!.note, 'ingest of disk 0 started');

    f.clock.advance(1000);
    expectStatus(await results(0, [ok('data/aa/b', 10), bad('data/cc/d', 'ChecksumMismatch'), ok('index/e', 20)], { bytesDone: 40, filesDone: 3 }), 204);
    const resumed = (await ingest(0)).json<{ job: ImportJob; finished: boolean; done: unknown[] }>();
    assert.deepEqual(resumed.done, [
      { path: 'data/aa/b', size: 10, sha256: SHA(10) },
      { path: 'index/e', size: 20, sha256: SHA(20) },
    ]);
    assert.equal(resumed.finished, false);
    assert.deepEqual(resumed.job.disks[0]!.progress, { bytesDone: 40, filesDone: 3, filesFailed: 1, startedAt: at, updatedAt: new Date(f.clock.now()).toISOString() });
    assert.equal(resumed.job.timeline.filter((e) => e.note === 'ingest of disk 0 started').length, 1, 'a resumed ingest records nothing');
  });

  it('refuses a disk whose id or manifest differs from the registered one, and logs DiskIdMismatch / ManifestCorrupted', async () => {
    await jobIn('Received', 2);
    const foreign = await ingest(0, { diskId: disk(1).diskId, manifestSha256: disk(0).manifestSha256 });
    expectStatus(foreign, 409, 'DISK_ID_MISMATCH');
    const tampered = await ingest(1, { diskId: disk(1).diskId, manifestSha256: SHA(7) });
    expectStatus(tampered, 409, 'MANIFEST_MISMATCH');
    assert.match(tampered.json<{ message: string }>().message, /the manifest of disk 1 has SHA-256 0+7, but diskprep registered .*: the manifest was changed or damaged; the disk is refused/);
    assert.deepEqual((await errorLog()).map((e) => [e.diskIndex, e.code]), [[0, 'DiskIdMismatch'], [1, 'ManifestCorrupted']]);
    const job = await getJob();
    assert.equal(job.state, 'Received', 'nothing started');
    assert.deepEqual(job.disks.map((d) => d.state), ['Prepared', 'Prepared']);
  });

  it('is refused before the job is received, and for a deleted job', async () => {
    await jobIn('Shipping');
    expectStatus(await ingest(0), 409, 'ILLEGAL_TRANSITION');
    expectStatus(await results(0, []), 409, 'ILLEGAL_TRANSITION');
    expectStatus(await op('POST', '/errors', { diskIndex: null, path: null, code: 'UnknownDisk', message: 'x' }), 409, 'ILLEGAL_TRANSITION');
  });

  it('records results only while the disk is Transferring, validates them, and a later result for a path replaces the earlier', async () => {
    await jobIn('Received', 1);
    expectStatus(await results(0, [ok('data/aa/b')]), 409, 'ILLEGAL_TRANSITION');
    await ingest(0);
    expectStatus(await results(0, [{ ...ok('data/aa/b'), sha256: null }]), 400, 'INVALID_REQUEST');
    expectStatus(await results(0, [bad('data/aa/b', 'Lost')]), 400, 'INVALID_REQUEST');
    expectStatus(await results(0, Array.from({ length: 1001 }, (_, i) => ok(`data/aa/${i}`))), 400, 'INVALID_REQUEST');
    expectStatus(await results(0, [ok('x\u0001y')]), 400, 'INVALID_REQUEST');
    expectStatus(await results(0, Array.from({ length: 1000 }, (_, i) => ok(`data/aa/${i}`))), 204);

    f.clock.advance(1000);
    expectStatus(await results(0, [bad('data/zz/1', 'DecryptFailed', 'segment 3 failed authentication'), bad('data/zz/2', 'FileNotFound')]), 204);
    assert.deepEqual(await errorLog(), [
      { at: new Date(f.clock.now()).toISOString(), diskIndex: 0, path: 'data/zz/1', code: 'DecryptFailed', message: 'segment 3 failed authentication' },
      { at: new Date(f.clock.now()).toISOString(), diskIndex: 0, path: 'data/zz/2', code: 'FileNotFound', message: 'the file the manifest lists is not on the disk' },
    ]);
    // The retry of one succeeds: its error is gone.
    expectStatus(await results(0, [ok('data/zz/1')]), 204);
    assert.deepEqual((await errorLog()).map((e) => e.path), ['data/zz/2']);
    assert.equal((await getJob()).errorCount, 1);
  });

  it('a disk ends Completed, CompletedWithErrors or Failed from its recorded results against its file count; repeating the finish is refused', async () => {
    await jobIn('Received', 3); // disks 0, 1, 2 have 10, 11, 12 files
    for (const index of [0, 1, 2]) await ingest(index);
    const okFiles = (index: number, n: number): object[] => Array.from({ length: n }, (_, i) => ok(`data/${index}${i}/x`));
    await results(0, okFiles(0, 10));
    await results(1, [...okFiles(1, 10), bad('data/1/lost', 'IOFailed')]);
    const finish = async (index: number): Promise<ImportJob> => {
      const answer = await op('POST', `/disks/${index}/finish`, {});
      expectStatus(answer, 200);
      return answer.json<ImportJob>();
    };
    let job = await finish(0);
    assert.deepEqual([job.state, job.disks[0]!.state], ['Transferring', 'Completed']);
    assert.equal(job.timeline.at(-1)!.note, 'disk 0 Completed: 10 of 10 files arrived intact');
    job = await finish(1);
    assert.equal(job.disks[1]!.state, 'CompletedWithErrors', '10 of 11: the file without a result counts as lost');
    job = await finish(2);
    assert.equal(job.disks[2]!.state, 'Failed');
    assert.equal(job.state, 'CompletedWithErrors');
    assert.match(job.timeline.at(-1)!.note ?? '', /^disk 2 Failed: 0 of 12 files arrived intact; ingest finished: CompletedWithErrors, not every file arrived intact, 1 entry in the error log/);
    expectStatus(await op('POST', '/disks/0/finish', {}), 409, 'ILLEGAL_TRANSITION');
    // Over: a repeated ingest has nothing to do.
    const repeated = (await ingest(1)).json<{ finished: boolean; job: ImportJob }>();
    assert.equal(repeated.finished, true);
    assert.equal(repeated.job.state, 'CompletedWithErrors');
  });

  it('the job is Completed only when every disk is and the error log is empty, Failed when not one file arrived', async () => {
    const finishAll = async (log: boolean, okCount: number): Promise<ImportJob> => {
      await ingest(0);
      await results(0, Array.from({ length: okCount }, (_, i) => ok(`data/aa/${i}`)));
      if (log) expectStatus(await op('POST', '/errors', { diskIndex: null, path: 'files/extra', code: 'UnexpectedFile', message: 'not in the manifest' }), 204);
      return (await op('POST', '/disks/0/finish', {})).json<ImportJob>();
    };
    await jobIn('Received', 1);
    const completed = await finishAll(false, 10);
    assert.equal(completed.state, 'Completed');
    assert.match(completed.timeline.at(-1)!.note ?? '', /ingest finished: Completed, every file arrived intact$/);

    for (const [log, okCount, state] of [[true, 10, 'CompletedWithErrors'], [false, 0, 'Failed']] as const) {
      await f.close();
      f = await startServiceFixture();
      w = await buildWorld(f);
      await jobIn('Received', 1);
      const job = await finishAll(log, okCount);
      assert.equal(job.disks[0]!.state, okCount === 10 ? 'Completed' : 'Failed');
      assert.equal(job.state, state);
      if (state === 'Failed') assert.equal((await f.db.selectFrom('import_jobs').select('open_vault_id').executeTakeFirstOrThrow()).open_vault_id, null, 'a failed job is no pending seed');
    }
  });
});

describe('the error log', () => {
  it('holds problems and non-Ok results, oldest first, for everyone who sees the job', async () => {
    await jobIn('Received', 1);
    expectStatus(await op('POST', '/errors', { diskIndex: 4, path: null, code: 'UnknownDisk', message: 'a disk with index 4 was presented' }), 204);
    f.clock.advance(1000);
    await ingest(0);
    await results(0, [bad('data/aa/1', 'UploadFailed', 'the service answered 507')]);
    expectStatus(await op('POST', '/errors', { diskIndex: null, path: null, code: 'Nope', message: 'x' }), 400, 'INVALID_REQUEST');
    expectStatus(await op('POST', '/errors', { diskIndex: null, path: null, code: 'ForeignDisk' }), 400, 'INVALID_REQUEST');
    const log = await errorLog();
    assert.deepEqual(log.map((e) => e.code), ['UnknownDisk', 'UploadFailed']);
    for (const token of [w.a.tenantAdminToken, w.a.agentToken, w.jobToken, w.operatorToken]) assert.deepEqual(await errorLog(token), log);
    expectStatus(await call(w.b.tenantAdminToken, 'GET', jobUrl('/errors')), 404);
    assert.equal((await getJob()).errorCount, 2);
  });
});

describe('disks never received', () => {
  it('the sweep marks disks not ingested 14 days after receipt NeverReceived and finishes the job', async () => {
    await jobIn('Received', 2);
    await ingest(0);
    await results(0, Array.from({ length: 10 }, (_, i) => ok(`data/aa/${i}`)));
    await op('POST', '/disks/0/finish', {});
    f.clock.advance(14 * DAY_MS - 1);
    assert.deepEqual(await markNeverReceivedDisks(storeOf(f)), []);
    f.clock.advance(1);
    const [job] = await markNeverReceivedDisks(storeOf(f));
    assert.deepEqual(job!.disks.map((d) => d.state), ['Completed', 'NeverReceived']);
    assert.equal(job!.state, 'CompletedWithErrors');
    assert.equal(job!.timeline.at(-1)!.actor, 'service:deadline-sweep');
    assert.match(job!.timeline.at(-1)!.note ?? '', /^disk 1 not ingested within the period after the job was received .*: NeverReceived; ingest finished: CompletedWithErrors/);
    assert.deepEqual(await markNeverReceivedDisks(storeOf(f)), [], 'nothing left to mark');
  });
});

describe('the job JSON', () => {
  it('has exactly the fields of the contract (src/contract/import-job.ts), and no disk key or excluded key list', async () => {
    await jobIn('Received', 1);
    await ingest(0);
    const job = await getJob();
    assert.deepEqual(Object.keys(job).sort(), Object.keys(ImportJob.shape).sort());
    assert.deepEqual(Object.keys(job.disks[0]!).sort(), Object.keys(ImportJobDisk.shape).sort());
    assert.deepEqual(Object.keys(job.disks[0]!.progress!).sort(), Object.keys(ImportDiskProgress.shape).sort());
    await f.close();
    f = await startServiceFixture();
    w = await buildWorld(f);
    await prepareDisks(f, w.jobId, 1);
    await driveJob(f, w.jobId, 'Completed');
    const adopting = await call(w.a.agentToken, 'POST', jobUrl('/adopt'), { exclude: [`index/${SHA(1)}`] });
    expectStatus(adopting, 202);
    const adoption = adopting.json<ImportJob>().adoption!;
    assert.deepEqual(Object.keys(adoption).sort(), ['bytesDone', 'error', 'excluded', 'finishedAt', 'objectsDone', 'objectsTotal', 'serverSideCopy', 'startedAt', 'state']);
    assert.deepEqual({ state: adoption.state, excluded: adoption.excluded, objectsTotal: adoption.objectsTotal }, { state: 'Running', excluded: 1, objectsTotal: null });
  });
});
