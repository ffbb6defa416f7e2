import type { ServiceDatabase } from '../db/database.js';
import { isoTime } from '../ids.js';

/**
 * Named background tasks that one service instance at a time runs (the tracking deadline and NeverReceived
 * sweep), claimed through the database only: a lease row per task, held by an owner until it expires. The
 * holder renews it while it works; when it stops renewing (killed, hung, cut off from the database),
 * another instance claims it once it expired. Adoptions have their own per-job lease (adoption-lease.ts).
 *
 * The lease makes the work happen on one instance at a time; it does not on its own make it happen once:
 * each change a task makes must still be a conditional update (a holder whose lease expired mid-change may
 * overlap its successor for a moment).
 */

/**
 * Claims task `name` for `owner` until `now + leaseMs` when it is free, expired, or already `owner`'s
 * (then renewed). True when `owner` holds it afterwards. One statement (an upsert whose update is
 * conditional): two instances claiming at once never both get it.
 */
export async function claimWorkerLease(db: ServiceDatabase, name: string, owner: string, now: number, leaseMs: number): Promise<boolean> {
  const expiresAt = isoTime(now + leaseMs);
  const result = await db
    .insertInto('worker_leases')
    .values({ name, owner, expires_at: expiresAt })
    .onConflict((oc) =>
      oc
        .column('name')
        .doUpdateSet({ owner, expires_at: expiresAt })
        .where((eb) => eb.or([eb('worker_leases.owner', '=', owner), eb('worker_leases.expires_at', '<=', isoTime(now))])),
    )
    .executeTakeFirst();
  return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
}

/** Extends `owner`'s lease of task `name` to `now + leaseMs`. False when it no longer holds it: it must stop. */
export async function renewWorkerLease(db: ServiceDatabase, name: string, owner: string, now: number, leaseMs: number): Promise<boolean> {
  const result = await db.updateTable('worker_leases').set({ expires_at: isoTime(now + leaseMs) }).where('name', '=', name).where('owner', '=', owner).executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

/** Gives task `name` back when `owner` holds it: another instance may claim it at once. Idempotent. */
export async function releaseWorkerLease(db: ServiceDatabase, name: string, owner: string): Promise<void> {
  await db.deleteFrom('worker_leases').where('name', '=', name).where('owner', '=', owner).execute();
}
