import { UserError } from '../../core/errors.js';
import type { Id } from '../../core/ids.js';
import { Repository } from '../../engine/repository/repository.js';
import { cleanupSeed } from '../../seed/adoption/seed-cleanup.js';
import type { ImportJob } from '../../contract/import-job.js';
import type { Storage } from '../../storage/storage.js';
import { clearSeed, readSeed, vaultLocation, type SeedRecord } from '../agent-state.js';
import { activeRegistration } from '../agent-token.js';
import { agentTokenDeps, openTargetStorage, type CliContext } from '../context.js';
import { formatBytes } from '../format.js';
import { readPassword } from '../password.js';
import { adoptionServiceFor, openStaging } from '../seed-adoption.js';
import { askLine } from '../terminal-question.js';

/**
 * The end of an offline seed on the agent: `ferry seed status` (pending or adopted, with the adoption's
 * progress), `ferry seed cleanup` (after adoption) and `ferry seed abandon` (a job that ended without it).
 */

export interface SeedCleanupOptions {
  readonly yes?: boolean;
  readonly passwordFile?: string;
  readonly json?: boolean;
}

/** `ferry seed status`: the seed and its job, the ingest's errors and the adoption's progress. */
export async function seedStatusCommand(ctx: CliContext, options: { json?: boolean }): Promise<number> {
  const registration = await activeRegistration(agentTokenDeps(ctx));
  const seed = await readSeed(ctx.env);
  if (!seed) {
    ctx.stdout.write(options.json ? 'null\n' : 'no offline seed is pending: backups go to the vault\n');
    return 0;
  }
  const job = await adoptionServiceFor(ctx, registration).getJob(seed.jobId);
  if (options.json) {
    ctx.stdout.write(JSON.stringify({ ...seed, adopted: seed.adoptedAt !== undefined, job }) + '\n');
    return 0;
  }
  const out = ctx.stdout;
  const disks = `${job.disks.length} disk${job.disks.length === 1 ? '' : 's'}`;
  if (seed.adoptedAt === undefined) {
    out.write(`offline seed pending: job ${seed.jobName} is ${job.state}, ${disks}, tracking ${job.trackingNumber ?? 'not entered yet'}\n`);
    if (job.errorCount > 0) out.write(`the ingest logged ${job.errorCount} problem(s): \`ferry job errors ${seed.jobName}\`; the adoption re-sends what it can from staging\n`);
    if (job.adoption) out.write(`adoption ${describeAdoption(job)}\n`);
    out.write(`backups go to ${seed.staging} until the import is adopted${job.state === 'Completed' || job.state === 'CompletedWithErrors' ? ' (the next backup adopts it)' : ''}\n`);
    return 0;
  }
  out.write(`offline seed adopted ${seed.adoptedAt}: job ${seed.jobName} is ${job.state}; ${seed.seededSnapshots?.length ?? 0} seeded snapshot(s) in vault "${registration.vault.name}", where backups go\n`);
  if (job.adoption) out.write(`adoption ${describeAdoption(job)}\n`);
  out.write(job.state === 'Closed'
    ? `the import is removed; \`ferry seed cleanup ${seed.jobName}\` removes the staging location ${seed.staging}\n`
    : `\`ferry seed cleanup ${seed.jobName}\` checks the seeded snapshots, then removes the import and the staging location ${seed.staging}\n`);
  return 0;
}

/**
 * `ferry seed cleanup JOB [--yes]`: after adoption only. Checks the seeded snapshots in the vault, asks
 * (typed job name on a terminal, or --yes), closes the job (the service removes the imported objects),
 * removes the staging location's Ferry files (naming anything else left there) and forgets the seed.
 */
export async function seedCleanupCommand(ctx: CliContext, jobRef: string, options: SeedCleanupOptions): Promise<number> {
  const registration = await activeRegistration(agentTokenDeps(ctx));
  const seed = await seedOf(ctx, jobRef);
  const service = adoptionServiceFor(ctx, registration);
  if (seed.adoptedAt === undefined) {
    const job = await service.getJob(seed.jobId);
    throw new UserError(
      job.state === 'Adopted' || job.state === 'Closed'
        ? `import job ${seed.jobName} is ${job.state}, but this machine has not switched to the vault yet: run \`ferry backup\` (it finishes the adoption), then the cleanup`
        : `import job ${seed.jobName} is ${job.state}: cleanup comes after the adoption (job Adopted), and removes the staging location the seed may still need. ` +
            (job.state === 'Completed' || job.state === 'CompletedWithErrors' ? 'Run `ferry backup`: it adopts the import' : 'See `ferry seed status`'),
    );
  }
  const interactive = ctx.stdin.isTTY === true && ctx.stderr.isTTY === true;
  if (!options.yes && !interactive) throw new UserError('cleanup deletes the import and the staging location: confirm with --yes (no terminal to ask on)');
  const password = await readPassword({ passwordFile: options.passwordFile, env: ctx.env, stdin: ctx.stdin, stderr: ctx.stderr });
  const vaultStorage = await openTargetStorage(ctx, { location: vaultLocation(registration), token: registration.token, registration });
  const vault = await Repository.open(vaultStorage, password, ctx.repoContext);
  const outcome = await cleanupSeed({
    service,
    jobId: seed.jobId,
    vault,
    seededSnapshots: (seed.seededSnapshots ?? []) as Id[],
    stagingDir: seed.staging,
    ...(await optionalStaging(ctx, seed.staging)),
    confirm: (job, checked) => confirmCleanup(ctx, seed, job, checked, options.yes === true),
  });
  await clearSeed(ctx.env);
  const staging = outcome.staging;
  if (options.json) {
    ctx.stdout.write(JSON.stringify({ message_type: 'seed_cleanup', job: outcome.job, checked_snapshots: outcome.checkedSnapshots, rescued_objects: outcome.rescued, staging: seed.staging, removed: staging?.removed ?? [], leftovers: staging?.leftovers ?? [] }) + '\n');
    return 0;
  }
  if (outcome.rescued > 0) ctx.stdout.write(`uploaded ${outcome.rescued} object(s) that only the staging location had (a backup that went there during the adoption) to the vault\n`);
  ctx.stdout.write(`checked ${outcome.checkedSnapshots} seeded snapshot(s) in the vault: whole\n`);
  ctx.stdout.write(`import job ${seed.jobName} is ${outcome.job.state}: its imported objects are removed\n`);
  if (staging && staging.leftovers.length > 0) {
    ctx.stdout.write(`removed Ferry's files from ${seed.staging}; left there (not Ferry's): ${staging.leftovers.join(', ')}\n`);
  } else {
    ctx.stdout.write(`removed the staging location ${seed.staging}\n`);
  }
  ctx.stdout.write('the offline seed is finished: backups go to the vault\n');
  return 0;
}

/**
 * `ferry seed abandon JOB [--yes]`: ends a seed whose job can no longer be adopted (Deleted, Cancelled,
 * Failed): forgets it, so backups go to the vault (online); the staging location is kept and named.
 */
export async function seedAbandonCommand(ctx: CliContext, jobRef: string, options: { yes?: boolean }): Promise<number> {
  const registration = await activeRegistration(agentTokenDeps(ctx));
  const seed = await seedOf(ctx, jobRef);
  const job = await adoptionServiceFor(ctx, registration).getJob(seed.jobId);
  if (seed.adoptedAt !== undefined || !['Deleted', 'Cancelled', 'Failed'].includes(job.state)) {
    throw new UserError(
      seed.adoptedAt !== undefined
        ? `import job ${seed.jobName} was adopted: finish it with \`ferry seed cleanup ${seed.jobName}\``
        : `import job ${seed.jobName} is ${job.state} and can still be adopted: only a Deleted, Cancelled or Failed job is abandoned (cancel it first with \`ferry job cancel ${seed.jobName}\` if it has not been received)`,
    );
  }
  const interactive = ctx.stdin.isTTY === true && ctx.stderr.isTTY === true;
  if (!options.yes) {
    if (!interactive) throw new UserError('abandoning sends the next backups to the vault online (in full): confirm with --yes (no terminal to ask on)');
    const answer = await askLine(ctx, `The next backups go to the vault online, in full. Type the job name (${seed.jobName}) to abandon the seed: `);
    if (answer?.trim() !== seed.jobName) throw new UserError('not abandoned: nothing was changed');
  }
  await clearSeed(ctx.env);
  ctx.stdout.write(`offline seed of import job ${seed.jobName} (${job.state}) abandoned: backups go to the vault from now on; the staging location ${seed.staging} is kept: remove it when you no longer need it (a new seed needs an empty folder)\n`);
  return 0;
}

/** This machine's seed when `jobRef` names its job (name or id); a `UserError` otherwise. */
async function seedOf(ctx: CliContext, jobRef: string): Promise<SeedRecord> {
  const seed = await readSeed(ctx.env);
  if (!seed) throw new UserError('this machine has no offline seed: `ferry seed status` shows what it has');
  if (jobRef !== seed.jobName && jobRef !== seed.jobId) throw new UserError(`this machine's offline seed is import job ${seed.jobName}, not "${jobRef}"`);
  return seed;
}

function describeAdoption(job: ImportJob): string {
  const a = job.adoption!;
  const total = a.objectsTotal === null ? '' : `/${a.objectsTotal}`;
  const error = a.state === 'Failed' ? `: ${a.error ?? 'no reason given'} (the next backup tries again)` : '';
  return `${a.state}: ${a.objectsDone}${total} objects, ${formatBytes(a.bytesDone)}${a.excluded > 0 ? `, ${a.excluded} index file(s) replaced` : ''}, server-side copy: ${a.serverSideCopy ? 'yes' : 'no'}${error}`;
}

async function confirmCleanup(ctx: CliContext, seed: SeedRecord, job: ImportJob, checked: number, yes: boolean): Promise<boolean> {
  const what = `${checked} seeded snapshot(s) are whole in the vault. Cleanup deletes the imported objects of job ${seed.jobName} and the staging location ${seed.staging}`;
  if (yes) {
    ctx.stderr.write(`${what} (--yes)\n`);
    return true;
  }
  const answer = await askLine(ctx, `${what}${job.state === 'Closed' ? ' (the import is already removed)' : ''}.\nType the job name (${seed.jobName}) to go on, anything else to stop: `);
  return answer?.trim() === seed.jobName;
}


async function optionalStaging(ctx: CliContext, dir: string | undefined): Promise<{ staging?: Storage }> {
  const staging = dir === undefined ? undefined : await openStaging(ctx, dir);
  return staging ? { staging } : {};
}
