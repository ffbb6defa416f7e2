import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { toApiError } from '../api/error-handler.js';
import { JOB_ACTION_KINDS, applyJobAction, type IngestTally, type JobAction, type JobActionKind, type JobAdoptionFacts, type JobDisk, type JobFacts, type JobShipping } from './job-machine.js';
import { DEFAULT_IMPORT_JOB_SETTINGS } from './job-settings.js';
import { DISK_STATES, FINAL_DISK_STATES, JOB_STATES, type DiskState, type JobState } from '../../contract/job-states.js';

const T0 = Date.parse('2026-11-25T12:00:00.000Z');
const DEADLINE_MS = 14 * 86_400_000;
const MAX_BYTES = DEFAULT_IMPORT_JOB_SETTINGS.maxDiskBytes;
/** The never-received period is the tracking deadline's length here, so one `now` arbitrary covers both. */
const settings = { trackingDeadlineMs: DEADLINE_MS, maxDisksPerJob: 10, maxDiskBytes: MAX_BYTES, neverReceivedMs: DEADLINE_MS };
const MANIFEST = 'ab'.repeat(32);
const iso = (ms: number): string => new Date(ms).toISOString();

/** Disk ids come from a small pool so that a registration sometimes reuses another disk's id. */
const DISK_IDS = ['disk-a', 'disk-b', 'disk-c', 'disk-d', 'disk-e', 'disk-f'];
const disk = (index: number, id = DISK_IDS[index % DISK_IDS.length]!, state: DiskState = 'Prepared'): JobDisk => ({ id, index, state, bytes: 100 * index, files: index, manifestSha256: MANIFEST });

/**
 * The specification the machine is checked against, written out as a table: the actions each state allows
 * when their preconditions hold. Everything else answers 409 and changes nothing.
 */
const NEXT: Readonly<Record<JobState, Partial<Record<JobActionKind, JobState>>>> = {
  Creating: { registerDisk: 'Creating', markPrepared: 'Creating', ship: 'Shipping', cancel: 'Cancelled', expire: 'Deleted', replaceDisk: 'Creating' },
  Shipping: { ship: 'Shipping', cancel: 'Cancelled', receive: 'Received', replaceDisk: 'Shipping' },
  // finishDisk and markNeverReceived: the job's state then follows from its disks (see `finished`).
  Received: { releaseDiskKey: 'Received', startDiskIngest: 'Transferring', finishDisk: 'Received', markNeverReceived: 'Received', replaceDisk: 'Received' },
  Transferring: { releaseDiskKey: 'Transferring', startDiskIngest: 'Transferring', finishDisk: 'Transferring', markNeverReceived: 'Transferring', replaceDisk: 'Transferring' },
  Completed: { requestAdoption: 'Completed', failAdoption: 'Completed', adopt: 'Adopted' },
  CompletedWithErrors: { requestAdoption: 'CompletedWithErrors', failAdoption: 'CompletedWithErrors', adopt: 'Adopted' },
  Adopted: { close: 'Closed' },
  Closed: {},
  Deleted: {},
  Cancelled: {},
  Failed: {},
};

type Expected = { readonly outcome: 'moves'; readonly state: JobState } | { readonly outcome: 'unchanged' } | { readonly outcome: 'refused'; readonly status: number; readonly code: string };

const refused = (status: number, code: string): Expected => ({ outcome: 'refused', status, code });
const illegal = refused(409, 'ILLEGAL_TRANSITION');

/** What the rules (docs/service.md, "Import jobs") say must happen, including each action's preconditions. */
function expected(job: JobFacts, action: JobAction, now: number): Expected {
  const next = NEXT[job.state][action.kind];
  const overdue = job.trackingDeadline !== null && now >= Date.parse(job.trackingDeadline);
  switch (action.kind) {
    case 'registerDisk': {
      if (next === undefined || job.preparedAt !== null) return illegal;
      if (action.disk.index >= settings.maxDisksPerJob || action.disk.bytes > MAX_BYTES) return refused(400, 'JOB_LIMIT_EXCEEDED');
      if (job.disks.some((d) => d.id === action.disk.id && d.index !== action.disk.index)) return refused(409, 'ALREADY_EXISTS');
      return { outcome: 'moves', state: next };
    }
    case 'markPrepared': {
      if (next === undefined) return illegal;
      if (job.preparedAt !== null) return action.disks === job.disks.length ? { outcome: 'unchanged' } : illegal;
      const indexes = job.disks.map((d) => d.index).sort((a, b) => a - b);
      const complete = indexes.length === action.disks && indexes.every((index, i) => index === i);
      return complete ? { outcome: 'moves', state: next } : illegal;
    }
    case 'ship': {
      if (job.state === 'Deleted') return refused(409, 'JOB_EXPIRED');
      if (next === undefined) return illegal;
      if (job.state === 'Creating' && job.preparedAt === null) return illegal;
      if (job.state === 'Creating' && overdue) return refused(409, 'JOB_EXPIRED');
      if (job.state === 'Shipping' && JSON.stringify(job.shipping) === JSON.stringify(action.shipping)) return { outcome: 'unchanged' };
      return { outcome: 'moves', state: next };
    }
    case 'expire':
      return next !== undefined && job.preparedAt !== null && overdue ? { outcome: 'moves', state: next } : illegal;
    case 'receive':
      return job.state === 'Deleted' ? expired : next !== undefined ? { outcome: 'moves', state: next } : illegal;
    case 'releaseDiskKey':
    case 'startDiskIngest': {
      if (job.state === 'Deleted') return expired;
      const ingested = ['Completed', 'CompletedWithErrors', 'Failed', 'Adopted', 'Closed'].includes(job.state);
      if (next === undefined && !(action.kind === 'startDiskIngest' && ingested)) return illegal;
      const target = job.disks.find((d) => d.index === action.index);
      if (target === undefined || target.id !== action.diskId) return refused(409, 'DISK_ID_MISMATCH');
      if (action.kind === 'releaseDiskKey') return { outcome: 'moves', state: job.state };
      if (target.manifestSha256 !== action.manifestSha256) return refused(409, 'MANIFEST_MISMATCH');
      if (ingested || target.state === 'Transferring' || FINAL_DISK_STATES.includes(target.state)) return { outcome: 'unchanged' };
      return { outcome: 'moves', state: 'Transferring' };
    }
    case 'finishDisk': {
      if (job.state === 'Deleted') return expired;
      const target = job.disks.find((d) => d.index === action.index);
      if (next === undefined || target?.state !== 'Transferring') return illegal;
      return { outcome: 'moves', state: finished(job, withState(job.disks, [target.index], diskOutcome(target, action.tally.diskOkFiles)), action.tally) };
    }
    case 'markNeverReceived': {
      if (job.state === 'Deleted') return expired;
      const waiting = job.disks.filter((d) => d.state === 'Prepared' || d.state === 'Received').map((d) => d.index);
      const due = job.receivedAt !== null && now >= Date.parse(job.receivedAt) + settings.neverReceivedMs;
      if (next === undefined || waiting.length === 0 || !due) return illegal;
      return { outcome: 'moves', state: finished(job, withState(job.disks, waiting, 'NeverReceived'), action.tally) };
    }
    case 'requestAdoption': {
      if (job.state === 'Adopted') return { outcome: 'unchanged' };
      if (next === undefined) return illegal;
      if (job.adoption?.state === 'Running') {
        return JSON.stringify(job.adoption.excluded) === JSON.stringify([...new Set(action.exclude)].sort()) ? { outcome: 'unchanged' } : refused(409, 'ADOPTION_RUNNING');
      }
      return { outcome: 'moves', state: next };
    }
    case 'failAdoption':
    case 'adopt':
      return next !== undefined && job.adoption?.state === 'Running' ? { outcome: 'moves', state: next } : illegal;
    case 'close':
      return job.state === 'Closed' ? { outcome: 'unchanged' } : next !== undefined ? { outcome: 'moves', state: next } : illegal;
    case 'cancel':
      return next !== undefined ? { outcome: 'moves', state: next } : illegal;
    case 'replaceDisk': {
      if (next === undefined || job.preparedAt === null) return illegal;
      const old = job.disks.find((d) => d.index === action.disk.index);
      if (old === undefined || old.id !== action.replaces) return refused(409, 'DISK_ID_MISMATCH');
      if (old.state !== 'Prepared' && old.state !== 'Received' && old.state !== 'NeverReceived') return illegal;
      if (action.disk.bytes > MAX_BYTES) return refused(400, 'JOB_LIMIT_EXCEEDED');
      if (job.disks.some((d) => d.id === action.disk.id)) return refused(409, 'ALREADY_EXISTS');
      return { outcome: 'moves', state: next };
    }
  }
}

const expired = refused(409, 'JOB_EXPIRED');

/** A disk's outcome from its Ok files: all of them Completed, some CompletedWithErrors, none Failed. */
function diskOutcome(d: JobDisk, okFiles: number): DiskState {
  return Math.min(okFiles, d.files) === d.files ? 'Completed' : okFiles > 0 ? 'CompletedWithErrors' : 'Failed';
}

function withState(disks: readonly JobDisk[], indexes: readonly number[], state: DiskState): JobDisk[] {
  return disks.map((d) => (indexes.includes(d.index) ? { ...d, state } : d));
}

/** The job's state once `disks` are its disks: unchanged until every disk is final, then its outcome. */
function finished(job: JobFacts, disks: readonly JobDisk[], tally: Omit<IngestTally, 'diskOkFiles'>): JobState {
  if (!disks.every((d) => FINAL_DISK_STATES.includes(d.state))) return job.state;
  if (tally.jobOkFiles === 0) return 'Failed';
  return disks.every((d) => d.state === 'Completed') && tally.errorCount === 0 ? 'Completed' : 'CompletedWithErrors';
}

const shippingArb: fc.Arbitrary<JobShipping> = fc.record({
  carrier: fc.constantFrom('UPS', 'DHL'),
  trackingNumber: fc.constantFrom('1Z 999 AA1', '1z999aa1', 'JD0146'),
  returnAddress: fc.constantFrom('Acme IT\n1 Main Street', 'Acme IT, Dock 4'),
}).map((shipping) => ({ ...shipping }));

/** Jobs in every state, with facts consistent with how they got there. */
const jobArb: fc.Arbitrary<JobFacts> = fc
  .record({
    // Creating and Shipping have the most rules: give them half of the cases.
    state: fc.oneof(fc.constantFrom<JobState>('Creating', 'Shipping'), fc.constantFrom(...JOB_STATES)),
    prepared: fc.boolean(),
    shippedBeforeCancel: fc.boolean(),
    contiguousDisks: fc.boolean(),
    indexes: fc.uniqueArray(fc.integer({ min: 0, max: 5 }), { maxLength: 4 }),
    count: fc.integer({ min: 1, max: 4 }),
    shipping: shippingArb,
    diskStates: fc.array(fc.constantFrom(...DISK_STATES), { minLength: 4, maxLength: 4 }),
    finalStates: fc.array(fc.constantFrom(...FINAL_DISK_STATES), { minLength: 4, maxLength: 4 }),
    adoption: fc.option(fc.record({ state: fc.constantFrom<JobAdoptionFacts['state']>('Running', 'Failed'), excluded: fc.constantFrom<string[]>([], ['index/aa'], ['index/aa', 'index/bb']) }).map((a) => ({ ...a }))),
  })
  .map(({ state, prepared, shippedBeforeCancel, contiguousDisks, indexes, count, shipping, diskStates, finalStates, adoption }): JobFacts => {
    const isPrepared = state === 'Creating' ? prepared : state !== 'Cancelled' || prepared || shippedBeforeCancel;
    const shipped = state !== 'Creating' && state !== 'Deleted' && (state !== 'Cancelled' || shippedBeforeCancel);
    const received = ['Received', 'Transferring', 'Completed', 'CompletedWithErrors', 'Failed', 'Adopted', 'Closed'].includes(state);
    // Disks move on once the job is received: any state while it is ingested, final states after.
    const diskState = (i: number): DiskState => (state === 'Received' || state === 'Transferring' ? diskStates[i]! : received ? finalStates[i]! : 'Prepared');
    const contiguous = Array.from({ length: count }, (_, i) => disk(i, undefined, diskState(i)));
    const disks = isPrepared || contiguousDisks ? contiguous : indexes.sort((a, b) => a - b).map((i) => disk(i));
    return {
      state,
      preparedAt: isPrepared ? iso(T0) : null,
      trackingDeadline: isPrepared ? iso(T0 + DEADLINE_MS) : null,
      shipping: shipped ? shipping : null,
      shippedAt: shipped ? iso(T0) : null,
      receivedAt: received ? iso(T0) : null,
      disks,
      adoption: state === 'Completed' || state === 'CompletedWithErrors' ? adoption : ['Adopted', 'Closed'].includes(state) ? { state: 'Done', excluded: [] } : null,
    };
  });

const tallyArb = (files: number): fc.Arbitrary<IngestTally> =>
  fc.record({ diskOkFiles: fc.integer({ min: 0, max: files + 1 }), jobOkFiles: fc.integer({ min: 0, max: 5 }), errorCount: fc.integer({ min: 0, max: 3 }) });

/** An action of `kind`, with parameters that sometimes meet its preconditions on `job` and sometimes not. */
function actionArb(job: JobFacts, kind: JobActionKind): fc.Arbitrary<JobAction> {
  switch (kind) {
    case 'registerDisk':
      return fc
        .record({
          index: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 6, max: 12 })),
          id: fc.constantFrom(...DISK_IDS, 'disk-new'),
          bytes: fc.oneof(fc.integer({ min: 0, max: 1_000_000 }), fc.constantFrom(MAX_BYTES, MAX_BYTES + 1)),
        })
        .map(({ index, id, bytes }): JobAction => ({ kind, disk: { id, index, bytes, files: 3, manifestSha256: 'cd'.repeat(32) } }));
    case 'markPrepared':
      return fc.oneof(fc.constant(job.disks.length), fc.integer({ min: 1, max: 6 })).map((disks): JobAction => ({ kind, disks: Math.max(1, disks) }));
    case 'ship':
      return fc.oneof(shippingArb, fc.constant(job.shipping ?? { carrier: 'UPS', trackingNumber: '1Z1', returnAddress: 'x' })).map((shipping): JobAction => ({ kind, shipping: { ...shipping } }));
    case 'releaseDiskKey':
    case 'startDiskIngest':
      return fc
        .record({
          index: fc.integer({ min: 0, max: 4 }),
          rightId: fc.boolean(),
          rightManifest: fc.boolean(),
        })
        .map(({ index, rightId, rightManifest }): JobAction => {
          const diskId = rightId ? (job.disks.find((d) => d.index === index)?.id ?? 'disk-new') : 'disk-new';
          return kind === 'releaseDiskKey'
            ? { kind, index, diskId, operator: 'tok-1' }
            : { kind, index, diskId, manifestSha256: rightManifest ? MANIFEST : 'cd'.repeat(32) };
        });
    case 'finishDisk':
      return fc.integer({ min: 0, max: 4 }).chain((index) => tallyArb(job.disks.find((d) => d.index === index)?.files ?? 3).map((tally): JobAction => ({ kind, index, tally })));
    case 'markNeverReceived':
      return tallyArb(0).map(({ jobOkFiles, errorCount }): JobAction => ({ kind, tally: { jobOkFiles, errorCount } }));
    case 'requestAdoption':
      return fc.constantFrom<string[]>([], ['index/aa'], ['index/bb', 'index/aa', 'index/aa']).map((exclude): JobAction => ({ kind, exclude }));
    case 'failAdoption':
      return fc.constant({ kind, reason: 'data/aa/aabb: the bytes do not match the name' });
    case 'adopt':
      return fc.constant({ kind, objects: 3, bytes: 300, serverSideCopy: true });
    case 'replaceDisk':
      return fc
        .record({
          index: fc.integer({ min: 0, max: 4 }),
          rightOld: fc.boolean(),
          id: fc.constantFrom(...DISK_IDS, 'disk-new'),
          bytes: fc.oneof(fc.integer({ min: 0, max: 1_000_000 }), fc.constant(MAX_BYTES + 1)),
        })
        .map(({ index, rightOld, id, bytes }): JobAction => ({
          kind,
          disk: { id, index, bytes, files: 2, manifestSha256: 'ef'.repeat(32) },
          replaces: rightOld ? (job.disks.find((d) => d.index === index)?.id ?? 'disk-x') : 'disk-x',
        }));
    case 'cancel':
    case 'expire':
    case 'receive':
    case 'close':
      return fc.constant({ kind });
  }
}

/** A job and an action: half of the time one its state lists, so that allowed transitions are well covered. */
const caseArb: fc.Arbitrary<[JobFacts, JobAction]> = jobArb.chain((job) => {
  const listed = Object.keys(NEXT[job.state]) as JobActionKind[];
  const kinds = listed.length > 0 ? fc.oneof(fc.constantFrom(...listed), fc.constantFrom(...JOB_ACTION_KINDS)) : fc.constantFrom(...JOB_ACTION_KINDS);
  return kinds.chain((kind) => actionArb(job, kind)).map((action): [JobFacts, JobAction] => [job, action]);
});

/** Before the deadline, right at it, and after it. */
const nowArb = fc.oneof(fc.integer({ min: T0, max: T0 + DEADLINE_MS - 1 }), fc.constant(T0 + DEADLINE_MS), fc.integer({ min: T0 + DEADLINE_MS, max: T0 + 3 * DEADLINE_MS }));

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

describe('import job state machine', () => {
  it('every state × every action: allowed ones move as specified, refused ones answer 409 (limits 400) and change nothing', () => {
    fc.assert(
      fc.property(caseArb, nowArb, ([job, action], now) => {
        const before = structuredClone(job);
        deepFreeze(job);
        const want = expected(job, action, now);
        let result;
        try {
          result = applyJobAction(job, action, { now, settings });
        } catch (err) {
          assert.equal(want.outcome, 'refused', `refused unexpectedly: ${(err as Error).message}`);
          const { status, body } = toApiError(err);
          assert.deepEqual({ status, code: body.code }, { status: (want as { status: number }).status, code: (want as { code: string }).code });
          assert.ok(body.message.length > 10, 'the refusal says why');
          assert.deepEqual(job, before, 'a refused action changes nothing');
          return;
        }
        if (want.outcome === 'refused') assert.fail(`allowed unexpectedly: ${JSON.stringify({ state: job.state, action })}`);
        assert.deepEqual(job, before, 'the input is never modified');
        if (want.outcome === 'unchanged') {
          assert.equal(result.note, null);
          assert.deepEqual(result.job, job);
          return;
        }
        assert.equal(result.job.state, want.state);
        assert.ok(result.note !== null && result.note.length > 0, 'every transition has a note for the timeline');
        assertOnlyIntendedChanges(job, action, now, result.job);
      }),
      { numRuns: 6000 },
    );
  });

  it('allows exactly the documented actions in each state (a job ready for each)', () => {
    const ready = (state: JobState, prepared: boolean, diskState: DiskState = 'Prepared', adoption: JobAdoptionFacts | null = null): JobFacts => ({
      state,
      preparedAt: prepared ? iso(T0) : null,
      trackingDeadline: prepared ? iso(T0 + DEADLINE_MS) : null,
      shipping: state === 'Creating' || state === 'Deleted' ? null : { carrier: 'UPS', trackingNumber: '1Z1', returnAddress: 'x' },
      shippedAt: state === 'Creating' || state === 'Deleted' ? null : iso(T0),
      receivedAt: ['Creating', 'Shipping', 'Deleted', 'Cancelled'].includes(state) ? null : iso(T0),
      disks: [disk(0, undefined, diskState)],
      adoption,
    });
    const actionFor = (kind: JobActionKind): JobAction => {
      switch (kind) {
        case 'registerDisk':
          return { kind, disk: { id: 'disk-new', index: 1, bytes: 1, files: 1, manifestSha256: 'ef'.repeat(32) } };
        case 'markPrepared':
          return { kind, disks: 1 };
        case 'ship':
          return { kind, shipping: { carrier: 'DHL', trackingNumber: 'JD1', returnAddress: 'y' } };
        case 'releaseDiskKey':
          return { kind, index: 0, diskId: 'disk-a', operator: 'tok' };
        case 'startDiskIngest':
          return { kind, index: 0, diskId: 'disk-a', manifestSha256: MANIFEST };
        case 'finishDisk':
          return { kind, index: 0, tally: { diskOkFiles: 0, jobOkFiles: 0, errorCount: 0 } };
        case 'markNeverReceived':
          return { kind, tally: { jobOkFiles: 0, errorCount: 0 } };
        case 'requestAdoption':
          return { kind, exclude: [] };
        case 'failAdoption':
          return { kind, reason: 'x' };
        case 'adopt':
          return { kind, objects: 1, bytes: 1, serverSideCopy: false };
        case 'replaceDisk':
          return { kind, disk: { id: 'disk-new', index: 0, bytes: 1, files: 1, manifestSha256: 'ef'.repeat(32) }, replaces: 'disk-a' };
        case 'cancel':
        case 'expire':
        case 'receive':
        case 'close':
          return { kind };
      }
    };
    const allowed = (job: JobFacts, now: number): string[] =>
      JOB_ACTION_KINDS.filter((kind) => {
        try {
          return applyJobAction(job, actionFor(kind), { now, settings }).note !== null;
        } catch {
          return false;
        }
      });
    const before = T0 + 1000;
    const after = T0 + DEADLINE_MS;
    assert.deepEqual(allowed(ready('Creating', false), before), ['registerDisk', 'markPrepared', 'cancel']);
    assert.deepEqual(allowed(ready('Creating', true), before), ['ship', 'cancel', 'replaceDisk']);
    assert.deepEqual(allowed(ready('Creating', true), after), ['cancel', 'expire', 'replaceDisk']);
    assert.deepEqual(allowed(ready('Shipping', true), after), ['ship', 'cancel', 'receive', 'replaceDisk']);
    assert.deepEqual(allowed(ready('Received', true), before), ['releaseDiskKey', 'startDiskIngest', 'replaceDisk']);
    assert.deepEqual(allowed(ready('Received', true), after), ['releaseDiskKey', 'startDiskIngest', 'markNeverReceived', 'replaceDisk']);
    assert.deepEqual(allowed(ready('Transferring', true, 'Transferring'), after), ['releaseDiskKey', 'finishDisk']);
    assert.deepEqual(allowed(ready('Completed', true), before), ['requestAdoption']);
    assert.deepEqual(allowed(ready('CompletedWithErrors', true, 'Completed', { state: 'Running', excluded: [] }), before), ['failAdoption', 'adopt']);
    assert.deepEqual(allowed(ready('Completed', true, 'Completed', { state: 'Failed', excluded: ['index/aa'] }), before), ['requestAdoption']);
    assert.deepEqual(allowed(ready('Adopted', true, 'Completed', { state: 'Done', excluded: [] }), before), ['close']);
    for (const ended of ['Closed', 'Deleted', 'Cancelled', 'Failed'] as const) assert.deepEqual(allowed(ready(ended, true), after), [], ended);
  });

  it('starts the tracking deadline when the disks are reported, and says when carrier and tracking number are due', () => {
    const job: JobFacts = { state: 'Creating', preparedAt: null, trackingDeadline: null, shipping: null, shippedAt: null, receivedAt: null, disks: [disk(0), disk(1)], adoption: null };
    const { job: prepared, note } = applyJobAction(job, { kind: 'markPrepared', disks: 2 }, { now: T0, settings: { ...settings, trackingDeadlineMs: 5000 } });
    assert.equal(prepared.preparedAt, iso(T0));
    assert.equal(prepared.trackingDeadline, iso(T0 + 5000));
    assert.match(note ?? '', /2 disks prepared; carrier and tracking number are due by 2026-11-25T12:00:05.000Z/);
  });

  it('refuses a reported disk count over the limit before anything is sized by it', () => {
    const job: JobFacts = { state: 'Creating', preparedAt: null, trackingDeadline: null, shipping: null, shippedAt: null, receivedAt: null, disks: [disk(0)], adoption: null };
    for (const disks of [settings.maxDisksPerJob + 1, 2 ** 31, Number.MAX_SAFE_INTEGER]) {
      assert.throws(() => applyJobAction(job, { kind: 'markPrepared', disks }, { now: T0, settings }), (err: unknown) => toApiError(err).body.code === 'JOB_LIMIT_EXCEEDED', String(disks));
    }
  });
});

/** Besides the state, an allowed action changes only what it is about. */
function assertOnlyIntendedChanges(job: JobFacts, action: JobAction, now: number, after: JobFacts): void {
  const rest = (j: JobFacts, ...keys: (keyof JobFacts)[]): Partial<JobFacts> => Object.fromEntries(Object.entries(j).filter(([k]) => !keys.includes(k as keyof JobFacts) && k !== 'state'));
  switch (action.kind) {
    case 'registerDisk': {
      assert.deepEqual(rest(after, 'disks'), rest(job, 'disks'));
      assert.deepEqual(after.disks.find((d) => d.index === action.disk.index), { ...action.disk, state: 'Prepared' });
      assert.deepEqual(after.disks.filter((d) => d.index !== action.disk.index), job.disks.filter((d) => d.index !== action.disk.index));
      assert.deepEqual(after.disks.map((d) => d.index), [...after.disks.map((d) => d.index)].sort((a, b) => a - b));
      return;
    }
    case 'markPrepared':
      assert.deepEqual(rest(after, 'preparedAt', 'trackingDeadline'), rest(job, 'preparedAt', 'trackingDeadline'));
      assert.equal(after.preparedAt, iso(now));
      assert.equal(after.trackingDeadline, iso(now + DEADLINE_MS));
      return;
    case 'ship':
      assert.deepEqual(rest(after, 'shipping', 'shippedAt'), rest(job, 'shipping', 'shippedAt'));
      assert.deepEqual(after.shipping, action.shipping);
      assert.equal(after.shippedAt, job.shippedAt ?? iso(now), 'shippedAt is the first shipment');
      return;
    case 'receive':
      assert.deepEqual(rest(after, 'receivedAt'), rest(job, 'receivedAt'));
      assert.equal(after.receivedAt, iso(now));
      return;
    case 'releaseDiskKey':
    case 'startDiskIngest':
    case 'finishDisk': {
      assert.deepEqual(rest(after, 'disks'), rest(job, 'disks'));
      const target = job.disks.find((d) => d.index === action.index)!;
      const want =
        action.kind === 'releaseDiskKey' ? (target.state === 'Prepared' ? 'Received' : target.state) : action.kind === 'startDiskIngest' ? 'Transferring' : diskOutcome(target, action.tally.diskOkFiles);
      assert.deepEqual(after.disks, withState(job.disks, [action.index], want));
      return;
    }
    case 'replaceDisk':
      assert.deepEqual(rest(after, 'disks'), rest(job, 'disks'));
      assert.deepEqual(after.disks, job.disks.map((d) => (d.index === action.disk.index ? { ...action.disk, state: 'Prepared' } : d)));
      return;
    case 'markNeverReceived':
      assert.deepEqual(rest(after, 'disks'), rest(job, 'disks'));
      assert.deepEqual(after.disks, job.disks.map((d) => (d.state === 'Prepared' || d.state === 'Received' ? { ...d, state: 'NeverReceived' } : d)));
      return;
    case 'requestAdoption':
      assert.deepEqual(rest(after, 'adoption'), rest(job, 'adoption'));
      assert.deepEqual(after.adoption, { state: 'Running', excluded: [...new Set(action.exclude)].sort() });
      return;
    case 'failAdoption':
    case 'adopt':
      assert.deepEqual(rest(after, 'adoption'), rest(job, 'adoption'));
      assert.deepEqual(after.adoption, { ...job.adoption, state: action.kind === 'adopt' ? 'Done' : 'Failed' });
      return;
    default:
      assert.deepEqual(rest(after), rest(job));
  }
}
