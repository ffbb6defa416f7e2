/**
 * One adoption: copies a job's imported objects into its vault (docs/service.md, "Adoption"). Packs
 * first, then index files, then snapshots, so that at every moment each snapshot in the vault has its
 * index files and packs there before it; an object the vault already has with the same size is skipped
 * (a resumed adoption copies nothing twice); every copy is checked against the SHA-256 its name claims
 * before it becomes visible. Server-side (inside the back end) when the locations allow it, else each
 * object is read from the import and saved into the vault through the service. Every snapshot adopted is
 * recorded with source `import` and the job (resources/snapshot-provenance.ts).
 */
import { ConflictError, IntegrityError, NotFoundError, PermanentError } from '../../core/errors.js';
import { idOfKey } from '../../storage/layout.js';
import type { Storage } from '../../storage/storage.js';
import type { ServiceContext } from '../context.js';
import { holdsAdoption, reportAdoptionProgress } from '../jobs/adoption-lease.js';
import type { JobAction } from '../jobs/job-machine.js';
import { readJob } from '../jobs/job-records.js';
import { changeImportJob } from '../jobs/job-store.js';
import { importPrefix, openImportStorage } from '../resources/import-adoption.js';
import { recordSnapshotArrival } from '../resources/snapshot-provenance.js';
import { storeDeps } from '../resources/import-jobs.js';
import { containerLocationOf, openVaultStorage } from '../resources/vault-storage.js';

/** The timeline actor of the adoption worker. */
export const ADOPTION_ACTOR = 'service:adoption';

/**
 * Progress is written (and the lease renewed) at least this often (or every third of the lease, when that is
 * shorter), and every PROGRESS_OBJECTS objects.
 */
const PROGRESS_INTERVAL_MS = 2000;
const PROGRESS_OBJECTS = 100;

/** The order of adoption: a snapshot is never visible before the index files and packs it needs. */
const KINDS = ['pack', 'index', 'snapshot'] as const;

/** How one run of an adoption ended. */
export type AdoptionOutcome =
  /** Every object copied: the adoption is Done, the job Adopted. */
  | 'adopted'
  /** An object could not be adopted (named in the adoption's error): the adoption is Failed. */
  | 'failed'
  /** Another worker holds the adoption now (this one's lease expired), or it is no longer Running. */
  | 'lost'
  /** `shouldStop` said to stop; the lease is the caller's to release. */
  | 'stopped';

export interface AdoptionRunOptions {
  /** The worker's lease owner name and lease length. */
  readonly owner: string;
  readonly leaseMs: number;
  /** Asked between objects; true stops the run. */
  readonly shouldStop?: () => boolean;
  /** Called after each object is in the vault (copied or found there); tests observe the order here. */
  readonly afterObject?: (key: string, copied: boolean) => void | Promise<void>;
}

/** An object to adopt. */
interface Planned {
  readonly key: string;
  readonly size: number;
  readonly sha256: string;
}

/**
 * Runs the adoption of job `jobId`, which the caller claimed for `options.owner`. Storage errors that
 * may pass (I/O, a back end away) are thrown, with the adoption left Running for a later retry; an object
 * that does not match its name, or that vanished from the import, fails the adoption with the key named.
 */
export async function runAdoption(ctx: ServiceContext, jobId: string, options: AdoptionRunOptions): Promise<AdoptionOutcome> {
  const job = (await readJob(ctx.db, jobId))?.job;
  if (job?.adoption?.state !== 'Running') return 'lost';
  const vault = await ctx.db.selectFrom('vaults').select(['storage_account_id', 'container']).where('id', '=', job.vaultId).executeTakeFirstOrThrow();
  const vaultWhere = { storageAccountId: vault.storage_account_id, container: vault.container };
  const copier = ctx.copyWithinBackend(await containerLocationOf(ctx, job), await containerLocationOf(ctx, vaultWhere));
  const source = await openImportStorage(ctx, job);
  const target = await openVaultStorage(ctx, vaultWhere);
  try {
    const plan = await planAdoption(source, new Set(job.adoption.excludedKeys));
    const present = await vaultObjects(target);
    let objectsDone = 0;
    let bytesDone = 0;
    let reportedAt = ctx.clock.now();
    let reportedObjects = 0;
    const reportEveryMs = Math.min(PROGRESS_INTERVAL_MS, Math.floor(options.leaseMs / 3));
    const report = (): Promise<boolean> => {
      reportedAt = ctx.clock.now();
      reportedObjects = objectsDone;
      return reportAdoptionProgress(ctx.db, jobId, options.owner, reportedAt, options.leaseMs, { objectsTotal: plan.length, objectsDone, bytesDone, serverSideCopy: copier !== null });
    };
    if (!(await report())) return 'lost';
    for (const object of plan) {
      if (options.shouldStop?.()) return 'stopped';
      const copied = present.get(object.key) !== object.size;
      if (copied) {
        try {
          if (copier !== null) await copier.copy(importPrefix(jobId) + object.key, object.key, object.sha256);
          else await target.save(object.key, await source.load(object.key), { length: object.size, sha256: object.sha256 });
        } catch (err) {
          if (err instanceof IntegrityError || err instanceof NotFoundError || err instanceof PermanentError) {
            return finish(ctx, jobId, options.owner, { kind: 'failAdoption', reason: `${object.key} could not be adopted: ${err.message}` }, 'failed');
          }
          throw err;
        }
      }
      // The vault now holds it: a snapshot is recorded as the import's (an earlier record, e.g. the run cut
      // short after the copy, is kept), so agent retention and run reports know it is no machine's.
      const snapshotId = idOfKey('snapshot', object.key);
      if (snapshotId !== undefined) await recordSnapshotArrival(ctx, job.vaultId, snapshotId, { source: 'import', jobId });
      objectsDone++;
      bytesDone += object.size;
      await options.afterObject?.(object.key, copied);
      if (objectsDone - reportedObjects >= PROGRESS_OBJECTS || ctx.clock.now() - reportedAt >= reportEveryMs) {
        if (!(await report())) return 'lost';
      }
    }
    if (!(await report())) return 'lost';
    return await finish(ctx, jobId, options.owner, { kind: 'adopt', objects: objectsDone, bytes: bytesDone, serverSideCopy: copier !== null }, 'adopted');
  } finally {
    await source.close();
    await target.close();
  }
}

/** Every importable object of the import but the excluded ones: packs, then index files, then snapshots, each sorted. */
async function planAdoption(source: Storage, excluded: ReadonlySet<string>): Promise<Planned[]> {
  const found: Planned[][] = KINDS.map(() => []);
  for (const [i, kind] of KINDS.entries()) {
    await source.list(kind === 'pack' ? 'data/' : kind === 'index' ? 'index/' : 'snapshots/', (info) => {
      const sha256 = idOfKey(kind, info.key);
      if (sha256 !== undefined && !excluded.has(info.key)) found[i]!.push({ key: info.key, size: info.size, sha256 });
    });
  }
  return found.flatMap((objects) => objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)));
}

/** The sizes of the vault's packs, index files and snapshots, by key. */
async function vaultObjects(target: Storage): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  for (const prefix of ['data/', 'index/', 'snapshots/']) await target.list(prefix, (info) => void sizes.set(info.key, info.size));
  return sizes;
}

/** Ends the adoption with `action`, only while `owner` still holds it (checked in the same transaction). */
async function finish(ctx: ServiceContext, jobId: string, owner: string, action: JobAction, outcome: AdoptionOutcome): Promise<AdoptionOutcome> {
  try {
    await changeImportJob(
      storeDeps(ctx),
      jobId,
      async (db) => {
        if (!(await holdsAdoption(db, jobId, owner))) throw new LostLease('another worker holds this adoption now');
        return action;
      },
      ADOPTION_ACTOR,
    );
    return outcome;
  } catch (err) {
    if (err instanceof ConflictError) return 'lost';
    throw err;
  }
}

class LostLease extends ConflictError {
  override readonly code = 'ADOPTION_LEASE_LOST';
}
