// Every job the pure job rules can reach, as the service answers it, reads back unchanged through the
// contract's response schema (src/contract/import-job.ts): no state, disk state, adoption state or time the
// rules produce falls outside what the clients accept.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ImportJob } from '../../contract/import-job.js';
import { isoTime } from '../ids.js';
import { JOB_ACTION_KINDS, applyJobAction, type JobAction, type JobActionKind, type JobFacts } from './job-machine.js';
import { DEFAULT_IMPORT_JOB_SETTINGS } from './job-settings.js';

const T0 = Date.parse('2026-11-25T12:00:00.000Z');
const DAY = 86_400_000;
const settings = { trackingDeadlineMs: 14 * DAY, maxDisksPerJob: 4, maxDiskBytes: DEFAULT_IMPORT_JOB_SETTINGS.maxDiskBytes, neverReceivedMs: 14 * DAY };
const ID = '1b4e28ba-2fa1-4d2f-8c3e-6b1a5f0e9d7c';
/** Disk ids as diskprep makes them (UUID v4); a small pool, so that registrations sometimes collide. */
const DISK_IDS = ['0a4e28ba-2fa1-4d2f-8c3e-6b1a5f0e9d70', '0b4e28ba-2fa1-4d2f-8c3e-6b1a5f0e9d71', '0c4e28ba-2fa1-4d2f-8c3e-6b1a5f0e9d72', '0d4e28ba-2fa1-4d2f-8c3e-6b1a5f0e9d73', '0e4e28ba-2fa1-4d2f-8c3e-6b1a5f0e9d74'];
const MANIFESTS = ['ab'.repeat(32), 'cd'.repeat(32)];

/** One step of a run: any action, or (`forward`) the one the job's state calls for next; numbers that pick its parameters; time passing. */
interface Step {
  readonly kind: JobActionKind;
  readonly forward: boolean;
  readonly pick: number;
  readonly laterMs: number;
}

const stepArb: fc.Arbitrary<Step> = fc.record({
  kind: fc.constantFrom(...JOB_ACTION_KINDS),
  // Most steps move the job on, so that runs reach the late states; the rest try anything.
  forward: fc.oneof({ arbitrary: fc.constant(true), weight: 3 }, { arbitrary: fc.constant(false), weight: 1 }),
  pick: fc.nat({ max: 1000 }),
  laterMs: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 60_000 }), weight: 9 }, { arbitrary: fc.integer({ min: 0, max: 20 * DAY }), weight: 1 }),
});

/** The action that moves a job in `job`'s state on along the main path. */
function forwardKind(job: JobFacts): JobActionKind {
  const open = job.disks.find((d) => d.state !== 'Completed' && d.state !== 'CompletedWithErrors' && d.state !== 'Failed' && d.state !== 'NeverReceived');
  switch (job.state) {
    case 'Creating':
      return job.disks.length < 2 ? 'registerDisk' : job.preparedAt === null ? 'markPrepared' : 'ship';
    case 'Shipping':
      return 'receive';
    case 'Received':
    case 'Transferring':
      return open?.state === 'Transferring' ? 'finishDisk' : 'startDiskIngest';
    case 'Completed':
    case 'CompletedWithErrors':
      return job.adoption?.state === 'Running' ? 'adopt' : 'requestAdoption';
    case 'Adopted':
      return 'close';
    default:
      return 'cancel';
  }
}

/** The action of `step` on `job`: parameters that the request schemas accept, chosen to fit the job most of the time. */
function actionOf(job: JobFacts, step: Step): JobAction {
  const { pick } = step;
  const kind = step.forward ? forwardKind(job) : step.kind;
  const open = job.disks.find((d) => d.state !== 'Completed' && d.state !== 'CompletedWithErrors' && d.state !== 'Failed' && d.state !== 'NeverReceived');
  const disk = step.forward && open !== undefined ? open : job.disks[pick % Math.max(1, job.disks.length)];
  const index = disk?.index ?? pick % 4;
  // Mostly every file intact (the job Completes), sometimes some or none (CompletedWithErrors, Failed).
  const clean = pick % 3 !== 0;
  const tally = { diskOkFiles: clean ? (disk?.files ?? 0) : pick % 4, jobOkFiles: pick % 7 === 0 ? 0 : 1 + (pick % 3), errorCount: clean ? 0 : pick % 2 };
  switch (kind) {
    case 'registerDisk':
    case 'replaceDisk': {
      const registered = { id: DISK_IDS[pick % DISK_IDS.length]!, index: kind === 'replaceDisk' ? index : job.disks.length % 4, bytes: pick * 1000, files: pick % 5, manifestSha256: MANIFESTS[pick % 2]! };
      return kind === 'registerDisk' ? { kind, disk: registered } : { kind, disk: registered, replaces: disk?.id ?? DISK_IDS[0]! };
    }
    case 'markPrepared':
      return { kind, disks: Math.max(1, job.disks.length) };
    case 'ship':
      return { kind, shipping: { carrier: pick % 2 === 0 ? 'UPS' : 'DHL', trackingNumber: `1Z ${pick}`, returnAddress: 'Acme IT\n1 Main Street' } };
    case 'releaseDiskKey':
      return { kind, index, diskId: disk?.id ?? DISK_IDS[0]!, operator: 'token-1' };
    case 'startDiskIngest':
      return { kind, index, diskId: disk?.id ?? DISK_IDS[0]!, manifestSha256: disk?.manifestSha256 ?? MANIFESTS[0]! };
    case 'finishDisk':
      return { kind, index, tally };
    case 'markNeverReceived':
      return { kind, tally: { jobOkFiles: tally.jobOkFiles, errorCount: tally.errorCount } };
    case 'requestAdoption':
      return { kind, exclude: pick % 2 === 0 ? [] : [`index/${'ef'.repeat(32)}`] };
    case 'failAdoption':
      return { kind, reason: 'the back end refused the copy' };
    case 'adopt':
      return { kind, objects: pick, bytes: pick * 4096, serverSideCopy: pick % 2 === 0 };
    case 'cancel':
    case 'expire':
    case 'receive':
    case 'close':
      return { kind };
  }
}

/** The job as the service answers it (what job-records.ts reads back), for facts the rules produced. */
function answerOf(job: JobFacts, timeline: ImportJob['timeline'], now: number): ImportJob {
  return {
    id: ID,
    name: 'winter-seed',
    tenantId: ID,
    vaultId: ID,
    storageAccountId: ID,
    container: 'seed-1',
    state: job.state,
    createdAt: isoTime(T0),
    preparedAt: job.preparedAt,
    trackingDeadline: job.trackingDeadline,
    carrier: job.shipping?.carrier ?? null,
    trackingNumber: job.shipping?.trackingNumber ?? null,
    returnAddress: job.shipping?.returnAddress ?? null,
    shippedAt: job.shippedAt,
    receivedAt: job.receivedAt,
    disks: job.disks.map((d) => ({
      ...d,
      progress: d.state === 'Prepared' || d.state === 'Received' || d.state === 'NeverReceived' ? null : { bytesDone: d.bytes, filesDone: d.files, filesFailed: 0, startedAt: isoTime(now), updatedAt: isoTime(now) },
    })),
    errorCount: 0,
    adoption:
      job.adoption === null
        ? null
        : { state: job.adoption.state, objectsTotal: null, objectsDone: 0, bytesDone: 0, excluded: job.adoption.excluded.length, serverSideCopy: false, startedAt: isoTime(now), finishedAt: job.adoption.state === 'Running' ? null : isoTime(now), error: null },
    timeline,
  };
}

describe('jobs the rules produce and the response schema', () => {
  it('every job reached by a run of actions reads back unchanged through the contract', () => {
    const reached = new Set<string>();
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 15, maxLength: 40 }), (steps) => {
        let now = T0;
        let job: JobFacts = { state: 'Creating', preparedAt: null, trackingDeadline: null, shipping: null, shippedAt: null, receivedAt: null, disks: [], adoption: null };
        const timeline: ImportJob['timeline'] = [{ at: isoTime(now), state: 'Creating', actor: 'agent:token-1', note: 'created' }];
        const check = (): void => {
          const answer = answerOf(job, timeline, now);
          assert.deepEqual(ImportJob.parse(JSON.parse(JSON.stringify(answer))), answer);
          reached.add(job.state);
        };
        check();
        for (const step of steps) {
          now += step.laterMs;
          let note: string | null;
          try {
            ({ job, note } = applyJobAction(job, actionOf(job, step), { now, settings }));
          } catch {
            continue; // refused: nothing changed
          }
          if (note !== null) timeline.push({ at: isoTime(now), state: job.state, actor: 'operator:token-2', note });
          check();
        }
      }),
      { numRuns: 120, seed: 15 },
    );
    // The runs must reach the late states, or the property says little.
    for (const state of ['Shipping', 'Transferring', 'Completed', 'Adopted', 'Closed', 'Cancelled', 'Deleted']) assert.ok(reached.has(state), `no run reached ${state}: ${[...reached].join(', ')}`);
  });
});
