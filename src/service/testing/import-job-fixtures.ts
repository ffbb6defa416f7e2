import { createHash } from 'node:crypto';
import type { DiskRegistration } from '../../contract/import-job.js';
import type { JobAction } from '../jobs/job-machine.js';
import { changeImportJob, type JobStoreDeps } from '../jobs/job-store.js';
import type { JobRecord } from '../jobs/job-records.js';
import type { ServiceFixture } from './service-fixture.js';

/** The actor test setups record in timelines. */
export const TEST_ACTOR = 'test:setup';

/** A deterministic UUID v4 from a seed. */
export function testUuid(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** A valid disk registration body for disk `index`, distinct per `seed`. */
export function diskRegistration(index: number, seed = 'disk'): DiskRegistration {
  const digest = (what: string): Buffer => createHash('sha256').update(`${seed}:${index}:${what}`).digest();
  return {
    diskId: testUuid(`${seed}:${index}`),
    bytes: 1_000_000 + index,
    files: 10 + index,
    manifestSha256: digest('manifest').toString('hex'),
    diskKey: digest('key').toString('base64'),
  };
}

/** The fixture's job store (its database, clock and settings). */
export function storeOf(fixture: ServiceFixture): JobStoreDeps {
  return { db: fixture.db, clock: fixture.clock, random: fixture.ctx.random, settings: fixture.ctx.importJobs };
}

/** Registers disks 0 … count-1 straight through the store and, unless `report` is false, reports them prepared. */
export async function prepareDisks(fixture: ServiceFixture, jobId: string, count: number, report = true): Promise<JobRecord> {
  const store = storeOf(fixture);
  let job: JobRecord | undefined;
  for (let index = 0; index < count; index++) {
    const disk = diskRegistration(index, jobId);
    const action = { kind: 'registerDisk', disk: { id: disk.diskId, index, bytes: disk.bytes, files: disk.files, manifestSha256: disk.manifestSha256 } } as const;
    job = (await changeImportJob(store, jobId, action, TEST_ACTOR, { sealedDiskKey: fixture.ctx.serviceKey.seal(Buffer.from(disk.diskKey, 'base64'), disk.diskId, fixture.ctx.random) })).job;
  }
  if (report) job = (await changeImportJob(store, jobId, { kind: 'markPrepared', disks: count }, TEST_ACTOR)).job;
  return job!;
}

/** The states {@link driveJob} reaches from a prepared job. */
export type DrivenState = 'Shipping' | 'Received' | 'Transferring' | 'Completed' | 'CompletedWithErrors' | 'Failed' | 'Adopted' | 'Closed';

const ROUTE: readonly DrivenState[] = ['Shipping', 'Received', 'Transferring', 'Completed', 'Adopted', 'Closed'];

/**
 * Drives a job whose disks are prepared (see {@link prepareDisks}) to `target` straight through the store:
 * shipped with `trackingNumber`, received, every disk's ingest started and finished with the tally the
 * target needs (no file results are recorded), adoption requested and done, closed.
 */
export async function driveJob(fixture: ServiceFixture, jobId: string, target: DrivenState, trackingNumber = `DRIVE-${jobId.slice(0, 8)}`): Promise<JobRecord> {
  const store = storeOf(fixture);
  const act = async (action: JobAction): Promise<JobRecord> => (await changeImportJob(store, jobId, action, TEST_ACTOR)).job;
  let job = await act({ kind: 'ship', shipping: { carrier: 'UPS', trackingNumber, returnAddress: 'Acme IT' } });
  const ending = ['Completed', 'CompletedWithErrors', 'Failed'].includes(target) ? 'Completed' : target;
  for (const step of ROUTE.slice(1, ROUTE.indexOf(ending) + 1)) {
    if (step === 'Received') job = await act({ kind: 'receive' });
    if (step === 'Transferring') {
      for (const disk of job.disks) job = await act({ kind: 'startDiskIngest', index: disk.index, diskId: disk.id, manifestSha256: disk.manifestSha256 });
    }
    if (step === 'Completed') {
      const total = job.disks.reduce((sum, d) => sum + d.files, 0);
      for (const disk of job.disks) {
        const diskOkFiles = target === 'Failed' ? 0 : target === 'CompletedWithErrors' ? 1 : disk.files;
        const jobOkFiles = target === 'Failed' ? 0 : target === 'CompletedWithErrors' ? job.disks.length : total;
        job = await act({ kind: 'finishDisk', index: disk.index, tally: { diskOkFiles, jobOkFiles, errorCount: target === 'Completed' || ROUTE.indexOf(target) > 3 ? 0 : 1 } });
      }
    }
    if (step === 'Adopted') {
      await act({ kind: 'requestAdoption', exclude: [] });
      job = await act({ kind: 'adopt', objects: 0, bytes: 0, serverSideCopy: false });
    }
    if (step === 'Closed') job = await act({ kind: 'close' });
  }
  return job;
}
