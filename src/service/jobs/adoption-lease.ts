import type { ServiceDatabase } from '../db/database.js';
import { isoTime } from '../ids.js';

/**
 * Which worker runs which adoption, coordinated through the database only (docs/service.md, "Adoption"):
 * a worker claims a Running adoption whose lease is free or expired with a conditional update, renews the
 * lease with every progress report, and loses the adoption when another worker took it over after its
 * lease expired (a worker that was killed or hung). Several `ferry serve` instances can run workers on one
 * database: each adoption is run by one worker at a time, and a restarted service resumes the adoptions
 * its predecessor held once their leases expire.
 */

/** The progress a worker reports (and the lease it renews with it). */
export interface AdoptionProgress {
  readonly objectsTotal: number;
  readonly objectsDone: number;
  readonly bytesDone: number;
  readonly serverSideCopy: boolean;
}

/**
 * Claims one Running adoption whose lease is free or expired for `owner` until `now + leaseMs`, and
 * returns its job id, or undefined when there is none. Two workers claiming at once never both get one.
 */
export async function claimAdoption(db: ServiceDatabase, owner: string, now: number, leaseMs: number): Promise<string | undefined> {
  const at = isoTime(now);
  const candidates = await db
    .selectFrom('job_adoptions')
    .select(['job_id', 'lease_owner', 'lease_expires_at'])
    .where('state', '=', 'Running')
    .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<=', at)]))
    .orderBy('started_at')
    .execute();
  for (const candidate of candidates) {
    // Only if nobody claimed it since it was read: the lease as read is part of the condition.
    let claim = db
      .updateTable('job_adoptions')
      .set({ lease_owner: owner, lease_expires_at: isoTime(now + leaseMs), updated_at: at })
      .where('job_id', '=', candidate.job_id)
      .where('state', '=', 'Running');
    claim =
      candidate.lease_expires_at === null
        ? claim.where('lease_expires_at', 'is', null)
        : claim.where('lease_expires_at', '=', candidate.lease_expires_at).where('lease_owner', '=', candidate.lease_owner ?? '');
    if ((await claim.executeTakeFirst()).numUpdatedRows === 1n) return candidate.job_id;
  }
  return undefined;
}

/**
 * Records the progress of `owner`'s adoption of job `jobId` and renews its lease. False when the worker
 * no longer holds it (taken over, or no longer Running): it must stop.
 */
export async function reportAdoptionProgress(db: ServiceDatabase, jobId: string, owner: string, now: number, leaseMs: number, progress: AdoptionProgress): Promise<boolean> {
  const result = await db
    .updateTable('job_adoptions')
    .set({
      objects_total: progress.objectsTotal,
      objects_done: progress.objectsDone,
      bytes_done: progress.bytesDone,
      copy_mode: progress.serverSideCopy ? 'server-side' : 'streamed',
      lease_expires_at: isoTime(now + leaseMs),
      updated_at: isoTime(now),
    })
    .where('job_id', '=', jobId)
    .where('state', '=', 'Running')
    .where('lease_owner', '=', owner)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

/** Gives the adoption back (a worker stopping): another worker may claim it at once. */
export async function releaseAdoption(db: ServiceDatabase, jobId: string, owner: string): Promise<void> {
  await db.updateTable('job_adoptions').set({ lease_owner: null, lease_expires_at: null }).where('job_id', '=', jobId).where('lease_owner', '=', owner).execute();
}

/** True while `owner` holds the lease of job `jobId`'s adoption. */
export async function holdsAdoption(db: ServiceDatabase, jobId: string, owner: string): Promise<boolean> {
  const row = await db.selectFrom('job_adoptions').select('job_id').where('job_id', '=', jobId).where('state', '=', 'Running').where('lease_owner', '=', owner).executeTakeFirst();
  return row !== undefined;
}
