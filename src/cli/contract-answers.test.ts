// The clients of the import-job routes read every answer through the contract's schemas: a service that
// answers another shape (another version, a proxy's JSON) is one typed error line, never a crash later.
// Fault injection: a tiny node:http server on 127.0.0.1 that answers what each test sets.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SAMPLE_AT, SAMPLE_DISK_ID, SAMPLE_JOB_ID, sampleImportJob } from '../contract/testing/sample-import-job.js';
import { UnexpectedAnswerError } from '../core/errors.js';
import { HttpIngestService } from './http-ingest-service.js';
import { HttpJobService } from './http-job-service.js';
import { HttpAdoptionService } from './seed-adoption.js';
import { ServiceClient } from './service-client.js';

const JOB_ID = SAMPLE_JOB_ID;
const DISK_ID = SAMPLE_DISK_ID;
const AT = SAMPLE_AT;
const job = sampleImportJob();

describe('clients of the import-job routes and answers of the wrong shape', () => {
  let server: Server;
  let url: string;
  /** What the fake service answers next: status and body. */
  let answer: { status: number; body: unknown } = { status: 200, body: job };
  const requests: string[] = [];
  before(async () => {
    server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      req.resume();
      req.on('end', () => {
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const client = (): ServiceClient => new ServiceClient(url, 'token');
  const refusal = async (call: () => Promise<unknown>): Promise<UnexpectedAnswerError> => {
    const err = await call().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof UnexpectedAnswerError, `expected an UnexpectedAnswerError, got ${String(err)}`);
    assert.doesNotMatch(err.message, /\n/, 'one line');
    assert.match(err.message, /the service and this ferry are probably different versions: run the same Ferry version on both/);
    return err;
  };

  it('reads a well-formed answer as it was sent', async () => {
    answer = { status: 200, body: { ...job, addedByANewerService: true } };
    assert.deepEqual(await new HttpJobService(client()).getJob(JOB_ID), job);
    assert.deepEqual(await client().getImportJob(JOB_ID), job);
  });

  it('diskprep (HttpJobService): a job with an unknown disk state names the request and the field', async () => {
    answer = { status: 200, body: { job: { ...job, disks: [{ ...job.disks[0], state: 'Misplaced' }] }, shippingAddress: 'Dock 4' } };
    const err = await refusal(() => new HttpJobService(client()).markPrepared(JOB_ID, 1));
    assert.match(err.message, new RegExp(`^the answer to POST /v1/import-jobs/${JOB_ID}/prepared from the service at ${url} is not what this version of Ferry reads: job\\.disks\\.0\\.state: `));
    assert.equal(err.code, 'UNEXPECTED_ANSWER');
  });

  it('the datacenter (HttpIngestService): a start answer without the files done, and an error log entry with an unknown code', async () => {
    answer = { status: 200, body: { job, finished: false } };
    assert.match((await refusal(() => new HttpIngestService(client()).startDisk(JOB_ID, 0, { diskId: DISK_ID, manifestSha256: 'ab'.repeat(32) }))).message, /\/disks\/0\/ingest .*: done: /);
    answer = { status: 200, body: { errors: [{ at: AT, diskIndex: 0, path: 'data/ab/1', code: 'Vanished', message: 'x' }] } };
    assert.match((await refusal(() => new HttpIngestService(client()).listErrors(JOB_ID))).message, /\/errors .*: errors\.0\.code: /);
    answer = { status: 200, body: { diskId: DISK_ID } };
    assert.match((await refusal(() => new HttpIngestService(client()).releaseDiskKey(JOB_ID, 0, DISK_ID))).message, /GET \/v1\/import-jobs\/[^ ]+\/disks\/0\/key from .*: diskKey: /, 'the query (with the disk id) is left out of the message');
  });

  it('the CLI and the agent (ServiceClient, HttpAdoptionService): a listing that is not a list, a job with a count as text', async () => {
    answer = { status: 200, body: { jobs: job } };
    assert.match((await refusal(() => client().findImportJobs({ name: 'winter-seed' }))).message, /GET \/v1\/import-jobs from .*: jobs: /);
    answer = { status: 200, body: { ...job, errorCount: '3' } };
    assert.match((await refusal(() => new HttpAdoptionService(client()).getJob(JOB_ID))).message, /: errorCount: /);
    answer = { status: 200, body: 'OK' };
    assert.match((await refusal(() => client().cancelImportJob(JOB_ID))).message, /\/cancel from .*: the answer: /);
  });

  it('an error answer is still the service error, not a shape error', async () => {
    answer = { status: 409, body: { code: 'ILLEGAL_TRANSITION', message: 'cannot cancel a job that is Received' } };
    await assert.rejects(client().cancelImportJob(JOB_ID), (err: Error) => !(err instanceof UnexpectedAnswerError) && (err as { code?: string }).code === 'ILLEGAL_TRANSITION');
  });
});
