import type { ImportJob } from '../../contract/import-job.js';

/**
 * What a pending seed's job means for the agent's next backup:
 * - `travelling`: the disks are being prepared, shipped or ingested; back up to staging.
 * - `ended`: the job can no longer be adopted (Deleted, Cancelled, Failed); back up to staging and warn.
 * - `adopt`: the ingest is over (Completed, CompletedWithErrors); heal the import, adopt it, switch.
 * - `adopted`: the service has adopted it already (the agent stopped before it switched); switch.
 */
export type SeedStep =
  | { readonly kind: 'travelling' }
  | { readonly kind: 'ended'; readonly warning: string }
  | { readonly kind: 'adopt' }
  | { readonly kind: 'adopted' };

/** The step for `job` (pure); `staging` is only used in the warning's text. */
export function seedStepOf(job: ImportJob, staging: string): SeedStep {
  const name = job.name;
  const keep = `Backups keep going to the staging location ${staging}, so nothing is lost meanwhile.`;
  const restart = `To seed again, run \`ferry seed abandon ${name}\` (backups then go to the vault online, the staging location is kept), then \`ferry seed start\` with a new job if disks are still the faster way.`;
  switch (job.state) {
    case 'Creating':
    case 'Shipping':
    case 'Received':
    case 'Transferring':
      return { kind: 'travelling' };
    case 'Completed':
    case 'CompletedWithErrors':
      return { kind: 'adopt' };
    case 'Adopted':
    case 'Closed':
      return { kind: 'adopted' };
    case 'Deleted':
      return { kind: 'ended', warning: `import job ${name} was deleted: no carrier and tracking number were entered before its tracking deadline, so the datacenter refuses its disks. ${keep} ${restart}` };
    case 'Cancelled':
      return { kind: 'ended', warning: `import job ${name} was cancelled: its disks will not be imported. ${keep} ${restart}` };
    case 'Failed':
      return { kind: 'ended', warning: `import job ${name} failed: not one file of its disks could be imported (\`ferry job errors ${name}\` says why). ${keep} ${restart}` };
  }
}
