import { UserError } from '../../core/errors.js';
import { shortId, type Id } from '../../core/ids.js';
import type { Repository, SnapshotRecord } from '../../engine/repository/repository.js';
import type { ImportJob } from '../../contract/import-job.js';
import type { Storage } from '../../storage/storage.js';
import type { AdoptionService } from './adoption-service.js';
import { uploadMissingObjects } from './heal-from-staging.js';
import { describeDefect, snapshotsNotWhole } from './snapshot-health.js';
import { removeStagingLocation, type StagingRemoval } from './staging-removal.js';

export interface SeedCleanupInput {
  readonly service: AdoptionService;
  readonly jobId: string;
  /** The vault's repository (opened with the passphrase); its index is loaded here. */
  readonly vault: Repository;
  /** The snapshots the adoption brought into the vault (recorded in the agent state). */
  readonly seededSnapshots: readonly Id[];
  /** The staging location's folder, or undefined when it was never local. */
  readonly stagingDir: string | undefined;
  /** The staging repository, when it still holds one: what a backup wrote there during the adoption is uploaded first. */
  readonly staging?: Storage;
  /** Asks the user (or answers for --yes); false cancels with nothing changed. */
  confirm(job: ImportJob, checked: number): Promise<boolean>;
}

export interface SeedCleanupOutcome {
  readonly job: ImportJob;
  readonly checkedSnapshots: number;
  readonly staging: StagingRemoval | undefined;
  /** Objects only staging had (a backup that went there while the import was adopted), now in the vault. */
  readonly rescued: number;
}

/**
 * `ferry seed cleanup`: only for an Adopted job (or a Closed one, when an earlier cleanup stopped after
 * closing it), and only when every seeded snapshot is in the vault and whole (every tree loads, every blob
 * is indexed, every pack is present with its size). Then, confirmed, closes the job (the service removes
 * the imported objects) and removes the staging location's Ferry files. Every refusal is a `UserError`
 * saying why and what to do, with nothing changed. Idempotent: running it again after an interruption
 * finishes the job.
 */
export async function cleanupSeed(input: SeedCleanupInput): Promise<SeedCleanupOutcome> {
  let job = await input.service.getJob(input.jobId);
  if (job.state !== 'Adopted' && job.state !== 'Closed') throw new UserError(refusal(job));
  // Staging is about to go: nothing may exist only there.
  const rescued = input.staging ? (await uploadMissingObjects(input.staging, input.vault.storage)).uploaded.length : 0;
  const checked = await checkSeededSnapshots(input.vault, input.seededSnapshots);
  if (!(await input.confirm(job, checked))) throw new UserError('cleanup cancelled: nothing was removed');
  if (job.state === 'Adopted') job = await input.service.closeJob(input.jobId);
  const staging = input.stagingDir === undefined ? undefined : await removeStagingLocation(input.stagingDir);
  return { job, checkedSnapshots: checked, staging, rescued };
}

/** Why a job in this state cannot be cleaned up, and what to do. */
function refusal(job: ImportJob): string {
  const name = job.name;
  const head = `import job ${name} is ${job.state}: cleanup comes after the adoption (job Adopted), and removes the staging location the seed may still need`;
  switch (job.state) {
    case 'Completed':
    case 'CompletedWithErrors':
      return `${head}. Run \`ferry backup\` (or let \`ferry agent run\` do it): it adopts the import, then clean up`;
    case 'Deleted':
    case 'Cancelled':
    case 'Failed':
      return `${head}; this job will never be adopted: \`ferry seed abandon ${name}\` ends the seed instead`;
    default:
      return `${head}. Wait until the datacenter has ingested the disks (\`ferry seed status\`); the next backup after that adopts it`;
  }
}

/** Loads the vault's index and checks every seeded snapshot; a `UserError` listing those not whole. */
async function checkSeededSnapshots(vault: Repository, ids: readonly Id[]): Promise<number> {
  await vault.loadIndex();
  // A seeded snapshot no longer in the vault was forgotten since (retention, a tenant-admin): nothing to protect.
  const present = new Set(await vault.listIds('snapshot'));
  const records: SnapshotRecord[] = [];
  const problems: string[] = [];
  for (const id of ids.filter((i) => present.has(i))) {
    try {
      records.push({ id, snapshot: await vault.loadSnapshot(id) });
    } catch (err) {
      problems.push(`snapshot ${shortId(id)} cannot be read: ${(err as Error).message}`);
    }
  }
  problems.push(...(await snapshotsNotWhole(vault, records)).map(describeDefect));
  if (problems.length > 0) {
    throw new UserError(
      `the check of the seeded snapshots in the vault failed, so nothing is removed (staging can still repair them):\n  ${problems.join('\n  ')}\n` +
        'run `ferry backup` of the same paths (it reads lost data again from the source), then `ferry seed cleanup` again; ' +
        'a snapshot whose files changed at the source since cannot be made whole: a tenant-admin may forget it (`ferry forget`)',
    );
  }
  return records.length;
}
