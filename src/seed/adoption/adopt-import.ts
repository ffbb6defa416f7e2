import { InterruptedError, UserError } from '../../core/errors.js';
import { noFailpoints, type Failpoints } from '../../core/failpoints.js';
import type { Id } from '../../core/ids.js';
import type { Storage } from '../../storage/storage.js';
import type { ImportJob, ImportJobAdoption } from '../../contract/import-job.js';
import type { AdoptionService } from './adoption-service.js';
import { uploadMissingObjects, type UploadProgress } from './heal-from-staging.js';
import { replaceIndexesNamingLostPacks } from './heal-without-staging.js';
import { importedSnapshots, lostSnapshots } from './lost-objects.js';

/** What adoption reports while it runs, for a progress line or a log. */
export type AdoptionEvent =
  | { readonly kind: 'upload'; readonly progress: UploadProgress }
  | { readonly kind: 'replaced'; readonly lostPacks: readonly Id[]; readonly written: readonly Id[]; readonly excluded: readonly string[] }
  | { readonly kind: 'requested'; readonly job: ImportJob }
  | { readonly kind: 'waiting'; readonly adoption: ImportJobAdoption };

export interface AdoptImportInput {
  readonly service: AdoptionService;
  readonly jobId: string;
  /** The import's objects (`<server>/v1/import-jobs/<jobId>` over HTTP). */
  readonly imported: Storage;
  /** The staging repository, or undefined when it is gone. */
  readonly staging: Storage | undefined;
  /** The repository's encryption key: replacement index files are sealed with it (staging gone). */
  readonly encryptionKey: Uint8Array;
  /** Resolves after `ms` or when `signal` aborts; never rejects. */
  sleep(ms: number, signal: AbortSignal | undefined): Promise<void>;
  /** How often the job is read while the service copies (default 1 s). */
  readonly pollMs?: number;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: AdoptionEvent) => void;
  /** Crash points for tests: `adoption-healed` (before the request), `adoption-waiting` (at every wait). */
  readonly failpoints?: Failpoints;
}

export interface AdoptionOutcome {
  /** The job, Adopted. */
  readonly job: ImportJob;
  /** Staging objects uploaded into the import before adoption (staging present). */
  readonly uploaded: { readonly objects: number; readonly bytes: number };
  /** Packs the import lacked that no staging could re-send (their data is read again by the next backup). */
  readonly lostPacks: readonly Id[];
  /** Import keys left out of the adoption. */
  readonly excluded: readonly string[];
  /** Snapshots lost in transit that could not be re-sent: reported by id. */
  readonly lostSnapshots: readonly Id[];
  /** The snapshots the vault gained: the seeded snapshots, which cleanup checks before it removes staging. */
  readonly seededSnapshots: readonly Id[];
}

/** The service reported the adoption Failed: the seed stays pending and the next run tries again. */
export class AdoptionFailedError extends UserError {}

/**
 * Adopts a completed import into the vault, from the agent's side, all or nothing:
 *
 * 1. heal the import: with staging, upload every staging object the import lacks (packs lost in transit,
 *    snapshots taken while the disks travelled); then replace the index files that still name lost packs
 *    (all of them when staging is gone) and exclude the originals ({@link replaceIndexesNamingLostPacks});
 * 2. request the adoption (route 9) with that exclude set;
 * 3. wait until the service reports it Done (events `waiting` with its progress).
 *
 * Resumable at every point: a job already Adopted (or Closed) returns at once; an adoption Running is
 * waited for without healing again (the import is read-only then); a Failed one is healed and requested
 * again. Throws {@link AdoptionFailedError} when the service fails the adoption, `InterruptedError` when
 * `signal` aborts, and `UserError` when the job is in a state that cannot be adopted.
 */
export async function adoptImport(input: AdoptImportInput): Promise<AdoptionOutcome> {
  const { service, jobId, imported } = input;
  let job = await service.getJob(jobId);
  let outcome: Omit<AdoptionOutcome, 'job'> = { uploaded: { objects: 0, bytes: 0 }, lostPacks: [], excluded: [], lostSnapshots: [], seededSnapshots: [] };
  if (job.state === 'Adopted' || job.state === 'Closed') return { ...outcome, job, seededSnapshots: job.state === 'Adopted' ? await importedSnapshots(imported) : [] };
  if (job.state !== 'Completed' && job.state !== 'CompletedWithErrors') {
    throw new UserError(`import job ${job.name} is ${job.state}: only a Completed or CompletedWithErrors job can be adopted`);
  }
  if (job.adoption?.state !== 'Running' && job.adoption?.state !== 'Done') {
    outcome = await heal(input);
    (input.failpoints ?? noFailpoints).hit('adoption-healed');
    job = await service.requestAdoption(jobId, outcome.excluded);
    input.onEvent?.({ kind: 'requested', job });
  } else {
    outcome = { ...outcome, seededSnapshots: await importedSnapshots(imported) };
  }
  job = await waitForAdoption(input, job);
  return { ...outcome, job };
}

async function heal(input: AdoptImportInput): Promise<Omit<AdoptionOutcome, 'job'>> {
  const { imported, staging } = input;
  let uploaded = { objects: 0, bytes: 0 };
  if (staging) {
    const result = await uploadMissingObjects(staging, imported, { signal: input.signal, onProgress: (progress) => input.onEvent?.({ kind: 'upload', progress }) });
    uploaded = { objects: result.uploaded.length, bytes: result.bytes };
  }
  // Also with staging: a pack staging lost too (a damaged staging disk) is handled like one without it.
  const replaced = await replaceIndexesNamingLostPacks(imported, input.encryptionKey);
  const { lostPacks, exclude: excluded } = replaced;
  if (excluded.length > 0) input.onEvent?.({ kind: 'replaced', lostPacks, written: replaced.written, excluded });
  const lost = await lostSnapshots(await input.service.listErrors(input.jobId), imported);
  return { uploaded, lostPacks, excluded, lostSnapshots: lost, seededSnapshots: await importedSnapshots(imported) };
}

async function waitForAdoption(input: AdoptImportInput, requested: ImportJob): Promise<ImportJob> {
  let job = requested;
  for (;;) {
    if (job.state === 'Adopted' || job.adoption?.state === 'Done') return job.state === 'Adopted' ? job : await settle(input, job);
    if (job.adoption === null) throw new UserError(`the service did not start the adoption of import job ${job.name} (state ${job.state}): run the backup again; if it persists, the service's log has the details`);
    if (job.adoption.state === 'Failed') {
      throw new AdoptionFailedError(
        `the service could not adopt import job ${job.name}: ${job.adoption.error ?? 'no reason given'}. Backups keep going to staging; the next backup tries again (the service's log has the details)`,
      );
    }
    input.onEvent?.({ kind: 'waiting', adoption: job.adoption });
    (input.failpoints ?? noFailpoints).hit('adoption-waiting');
    await input.sleep(input.pollMs ?? 1000, input.signal);
    if (input.signal?.aborted) throw new InterruptedError(`interrupted while the service adopts import job ${job.name}; the next backup waits for it again`);
    job = await input.service.getJob(input.jobId);
  }
}

/** The adoption is Done: the job moves to Adopted in the same step; read it once more if it lags. */
async function settle(input: AdoptImportInput, job: ImportJob): Promise<ImportJob> {
  for (let attempt = 0; attempt < 30 && job.state !== 'Adopted'; attempt++) {
    await input.sleep(input.pollMs ?? 1000, input.signal);
    if (input.signal?.aborted) throw new InterruptedError(`interrupted while the service adopts import job ${job.name}; the next backup waits for it again`);
    job = await input.service.getJob(input.jobId);
  }
  if (job.state !== 'Adopted') throw new UserError(`the service reports the adoption of import job ${job.name} done, but the job is ${job.state}, not Adopted: run the backup again`);
  return job;
}
