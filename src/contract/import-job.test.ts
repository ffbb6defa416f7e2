import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UnexpectedAnswerError, UserError } from '../core/errors.js';
import { parseAnswer } from './answer.js';
import { DiskRegistration, ImportJob, JobShipping, PreparedJob } from './import-job.js';
import { ErrorLog, FileResult, IngestProblem } from './ingest.js';
import { SAMPLE_AT, SAMPLE_DISK_ID, sampleImportJob } from './testing/sample-import-job.js';
import { ACTIVE_JOB_STATES, BEFORE_RECEIPT_JOB_STATES, DISK_KEY_JOB_STATES, ENDED_JOB_STATES, INGESTED_JOB_STATES, INGESTING_JOB_STATES, JOB_STATES, OPEN_JOB_STATES } from './job-states.js';

const AT = SAMPLE_AT;
const SHA = 'ab'.repeat(32);

/** A job as the service answers it, in the middle of its ingest. */
const job = (): ImportJob =>
  sampleImportJob({
    state: 'Transferring',
    disks: [{ id: SAMPLE_DISK_ID, index: 0, state: 'Transferring', bytes: 10, files: 2, manifestSha256: SHA, progress: { bytesDone: 5, filesDone: 1, filesFailed: 0, startedAt: AT, updatedAt: AT } }],
    timeline: [{ at: AT, state: 'Creating', actor: 'agent:x', note: 'created' }, { at: AT, state: 'Transferring', actor: 'operator:y' }],
  });

describe('the import-job contract', () => {
  it('reads a job answer as it was sent, and drops fields a newer service adds', () => {
    assert.deepEqual(ImportJob.parse(JSON.parse(JSON.stringify(job()))), job());
    const newer = { ...job(), priority: 'high', disks: [{ ...job().disks[0], slot: 3 }] };
    assert.deepEqual(ImportJob.parse(newer), job());
  });

  it('refuses answers of another shape', () => {
    const cases: [string, unknown][] = [
      ['an unknown job state', { ...job(), state: 'Lost' }],
      ['an unknown disk state', { ...job(), disks: [{ ...job().disks[0], state: 'Misplaced' }] }],
      ['a missing field', (({ errorCount: _, ...rest }) => rest)(job())],
      ['a count as a string', { ...job(), errorCount: '3' }],
      ['a negative count', { ...job(), disks: [{ ...job().disks[0], bytes: -1 }] }],
      ['a time without a zone', { ...job(), createdAt: '2026-11-25 20:04' }],
      ['a disk id that is not a record id', { ...job(), disks: [{ ...job().disks[0], id: 'disk-a' }] }],
      ['not an object', [job()]],
    ];
    for (const [what, answer] of cases) assert.equal(ImportJob.safeParse(answer).success, false, what);
  });

  it('parseAnswer names the request, the field and what to do, in one line, as an UnexpectedAnswerError', () => {
    const bad = { job: { ...job(), disks: [{ ...job().disks[0], state: 'Misplaced' }] }, shippingAddress: 'Dock 4' };
    const err = (() => {
      try {
        parseAnswer(PreparedJob, bad, 'POST /v1/import-jobs/x/prepared from the service at http://127.0.0.1:1');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof UnexpectedAnswerError && err instanceof UserError, String(err));
    assert.equal(err.code, 'UNEXPECTED_ANSWER');
    assert.doesNotMatch(err.message, /\n/);
    assert.match(err.message, /^the answer to POST \/v1\/import-jobs\/x\/prepared from the service at http:\/\/127\.0\.0\.1:1 is not what this version of Ferry reads: job\.disks\.0\.state: .*Prepared.*; the service and this ferry are probably different versions: run the same Ferry version on both/);
    assert.deepEqual(parseAnswer(PreparedJob, { job: job(), shippingAddress: 'Dock 4' }, 'x'), { job: job(), shippingAddress: 'Dock 4' });
    assert.throws(() => parseAnswer(ErrorLog, undefined, 'GET /v1/import-jobs/x/errors'), /GET \/v1\/import-jobs\/x\/errors .*: the answer: /);
  });

  it('takes the requests the clients send, and refuses malformed ones with a message', () => {
    const disk = { diskId: SAMPLE_DISK_ID, bytes: 10, files: 2, manifestSha256: SHA, diskKey: Buffer.alloc(32, 7).toString('base64') };
    assert.deepEqual(DiskRegistration.parse(disk), disk);
    assert.match(DiskRegistration.safeParse({ ...disk, diskKey: 'short' }).error?.issues[0]?.message ?? '', /base64 of 32 bytes/);
    assert.equal(DiskRegistration.safeParse({ ...disk, extra: 1 }).success, false, 'requests are strict');
    assert.deepEqual(JobShipping.parse({ carrier: ' UPS ', trackingNumber: '1Z 999', returnAddress: 'Acme\nDock 4' }), { carrier: 'UPS', trackingNumber: '1Z 999', returnAddress: 'Acme\nDock 4' });
    assert.match(JobShipping.safeParse({ carrier: 'UPS', trackingNumber: '1Z\u0416', returnAddress: 'x' }).error?.issues[0]?.message ?? '', /tracking number is 1-64 ASCII/);
    assert.match(FileResult.safeParse({ path: 'data/ab/1', size: 1, sha256: null, code: 'Ok', message: null }).error?.issues[0]?.message ?? '', /Ok result needs the sha256/);
    assert.equal(FileResult.safeParse({ path: 'data/ab/1', size: 1, sha256: null, code: 'FileNotFound', message: 'gone' }).success, true);
    assert.equal(IngestProblem.safeParse({ diskIndex: null, path: null, code: 'Vanished', message: 'x' }).success, false);
  });

  it('defines the state groups once, consistently with one another', () => {
    const before = new Set(BEFORE_RECEIPT_JOB_STATES);
    const ingesting = new Set(INGESTING_JOB_STATES);
    // Under way = before receipt, then ingesting; disk keys live exactly as long.
    assert.deepEqual([...ACTIVE_JOB_STATES], [...BEFORE_RECEIPT_JOB_STATES, ...INGESTING_JOB_STATES]);
    assert.deepEqual(DISK_KEY_JOB_STATES, ACTIVE_JOB_STATES);
    for (const state of JOB_STATES) {
      const groups = [ACTIVE_JOB_STATES, INGESTED_JOB_STATES, ['Deleted', 'Cancelled']].filter((g) => g.includes(state));
      assert.equal(groups.length, 1, `${state} is either under way, ingested, or dropped before ingest`);
      assert.equal(!(before.has(state) && ingesting.has(state)), true);
      // An ended job is never open, and an open job is under way or waiting for its adoption.
      if (ENDED_JOB_STATES.includes(state)) assert.equal(OPEN_JOB_STATES.includes(state), false, state);
      if (ACTIVE_JOB_STATES.includes(state)) assert.equal(OPEN_JOB_STATES.includes(state), true, state);
    }
  });
});
