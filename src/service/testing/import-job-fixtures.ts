import { createHash } from 'node:crypto';
import type { ImportJob } from '../jobs/job-records.js';
import { changeImportJob, type JobStoreDeps } from '../jobs/job-store.js';
import type { DiskRegistration } from '../resources/import-jobs.js';
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
  return { db: fixture.db, clock: fixture.clock, settings: fixture.ctx.importJobs };
}

/** Registers disks 0 … count-1 straight through the store and, unless `report` is false, reports them prepared. */
export async function prepareDisks(fixture: ServiceFixture, jobId: string, count: number, report = true): Promise<ImportJob> {
  const store = storeOf(fixture);
  let job: ImportJob | undefined;
  for (let index = 0; index < count; index++) {
    const disk = diskRegistration(index, jobId);
    const action = { kind: 'registerDisk', disk: { id: disk.diskId, index, bytes: disk.bytes, files: disk.files, manifestSha256: disk.manifestSha256 } } as const;
    job = (await changeImportJob(store, jobId, action, TEST_ACTOR, { diskKey: disk.diskKey })).job;
  }
  if (report) job = (await changeImportJob(store, jobId, { kind: 'markPrepared', disks: count }, TEST_ACTOR)).job;
  return job!;
}
