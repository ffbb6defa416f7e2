import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ImportJob } from '../../contract/import-job.js';
import { describeAdoption, describeJob, describeProgress } from './job.js';

const MIB = 1024 * 1024;
const at = (seconds: number): string => new Date(Date.UTC(2026, 10, 26, 2, 0, seconds)).toISOString();

function job(overrides: Partial<ImportJob> = {}): ImportJob {
  return {
    id: 'job-id',
    name: 'seed-1',
    tenantId: 't',
    vaultId: 'v',
    storageAccountId: 's',
    container: 'c',
    state: 'Transferring',
    createdAt: at(0),
    preparedAt: at(1),
    trackingDeadline: null,
    carrier: 'DHL',
    trackingNumber: 'JD1',
    returnAddress: 'Acme',
    shippedAt: at(2),
    receivedAt: at(3),
    disks: [
      { id: 'd0', index: 0, state: 'Transferring', bytes: 400 * MIB, files: 25, manifestSha256: 'a'.repeat(64), progress: { bytesDone: 100 * MIB, filesDone: 6, filesFailed: 1, startedAt: at(10), updatedAt: at(20) } },
      { id: 'd1', index: 1, state: 'Completed', bytes: 10 * MIB, files: 2, manifestSha256: 'b'.repeat(64), progress: { bytesDone: 10 * MIB, filesDone: 2, filesFailed: 0, startedAt: at(10), updatedAt: at(15) } },
      { id: 'd2', index: 2, state: 'Prepared', bytes: 10 * MIB, files: 2, manifestSha256: 'c'.repeat(64), progress: null },
    ],
    errorCount: 1,
    adoption: null,
    timeline: [],
    ...overrides,
  };
}

describe('ferry job show', () => {
  it("shows each disk's ingest: bytes, share, files, rate and (while it runs) the time left", () => {
    const j = job();
    assert.equal(describeProgress(j.disks[0]!, j.disks[0]!.progress!, Date.parse(at(21))), '100.0 MiB of 400.0 MiB (25%), 6/25 files, 1 failed, 10.0 MiB/s, ETA 0:30');
    assert.equal(describeProgress(j.disks[1]!, j.disks[1]!.progress!, Date.parse(at(21))), '10.0 MiB of 10.0 MiB (100%), 2/2 files, 2.00 MiB/s');
    // The disk's bytes include the transport layer: done is 100 % once every file is through, never before.
    const plaintext = { ...j.disks[1]!.progress!, bytesDone: 10 * MIB - 400 };
    assert.match(describeProgress(j.disks[1]!, plaintext, Date.parse(at(21))), /\(100%\), 2\/2 files/);
    assert.match(describeProgress(j.disks[1]!, { ...plaintext, bytesDone: 10 * MIB, filesDone: 1 }, Date.parse(at(21))), /\(99%\), 1\/2 files/);
    assert.match(describeProgress(j.disks[0]!, j.disks[0]!.progress!, Date.parse(at(200))), /ETA 0:30, last report 3:00 ago$/);
  });

  it('the page has the shipping and receiving times, the error count, and a line of progress per started disk', () => {
    const page = describeJob(job(), Date.parse(at(21)));
    assert.match(page, /shipped: +2026-11-26T02:00:02\.000Z\n +received: +2026-11-26T02:00:03\.000Z\n +errors: +1 \(ferry job errors seed-1\)\n/);
    assert.match(page, / 0 +d0 +Transferring +25 files +400.0 MiB\n +ingest: 100.0 MiB of 400.0 MiB \(25%\)/);
    assert.equal((page.match(/ingest:/g) ?? []).length, 2, 'no line for a disk not started');
    assert.doesNotMatch(page, /adoption:/);
  });

  it('shows the adoption and how far it is', () => {
    const adoption = { state: 'Running', objectsTotal: 80, objectsDone: 20, bytesDone: 300 * MIB, excluded: 2, excludedKeys: [], serverSideCopy: true, startedAt: at(30), finishedAt: null, error: null } as const;
    assert.equal(describeAdoption(adoption), 'Running, 20/80 objects, 300.0 MiB, 2 excluded, server-side copy, started 2026-11-26T02:00:30.000Z');
    assert.equal(describeAdoption({ ...adoption, state: 'Failed', objectsTotal: null, excluded: 0, serverSideCopy: false, finishedAt: at(40), error: 'data/ab/ab… hashes differently' }), 'Failed, 20 objects, 300.0 MiB, finished 2026-11-26T02:00:40.000Z: data/ab/ab… hashes differently');
    assert.match(describeJob(job({ state: 'Completed', adoption })), /\n {2}adoption: +Running, 20\/80 objects/);
  });
});
