import { lstat, mkdir, readdir, realpath, rm, statfs, writeFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { CreatedImportJob } from '../../contract/import-job.js';
import { UserError } from '../../core/errors.js';
import { normalizePaths } from '../../engine/archiver/backup.js';
import { Excludes } from '../../engine/archiver/excludes.js';
import { scanTotals, type ScanTotals } from '../../engine/archiver/scanner.js';
import { Repository } from '../../engine/repository/repository.js';
import { estimateStoredRatio } from '../../seed/plan/sample-estimate.js';
import { ASSUMED, planSeed } from '../../seed/plan/seed-plan.js';
import { writeSeedFile } from '../../seed/seed-file.js';
import { FsStorage } from '../../storage/fs/fs-storage.js';
import { CONFIG_KEY, folderOf } from '../../storage/layout.js';
import type { Storage } from '../../storage/storage.js';
import { readSchedule, readSeed, vaultLocation, writePendingSeed } from '../agent-state.js';
import { activeRegistration } from '../agent-token.js';
import { agentTokenDeps, openTargetStorage, type CliContext } from '../context.js';
import { formatBytes } from '../format.js';
import { readPassword } from '../password.js';
import { ServiceClient } from '../service-client.js';

export interface SeedStartOptions {
  readonly staging: string;
  readonly storageAccount: string;
  readonly container: string;
  readonly job: string;
  readonly paths?: string[];
  readonly passwordFile?: string;
  readonly json?: boolean;
}

/**
 * `ferry seed start`: checks every prerequisite before it changes anything (registered agent, sources the
 * seed can carry, an empty writable staging folder with room for the sources, the passphrase), then creates
 * the import job (the service checks the storage account's tenant and the job name), makes the staging
 * location a replica of the vault's repository (its config and key slots: nothing is re-encrypted later),
 * writes the job token for the copy computer into it, and records the seed in the agent state, so the next
 * backups go to staging.
 */
export async function seedStartCommand(ctx: CliContext, options: SeedStartOptions): Promise<number> {
  const registration = await activeRegistration(agentTokenDeps(ctx));
  const pending = await readSeed(ctx.env);
  if (pending?.adoptedAt !== undefined) {
    throw new UserError(`the previous offline seed (job ${pending.jobName}) is adopted but not cleaned up: run \`ferry seed cleanup ${pending.jobName}\` first`);
  }
  if (pending) throw new UserError(`an offline seed is already pending (job ${pending.jobName}, staging ${pending.staging}); see \`ferry seed status\``);
  const sources = await seedSources(ctx, options.paths);
  const staging = resolve(options.staging);
  await checkStaging(staging, sources);
  const totals: ScanTotals = { files: 0, bytes: 0, finished: false };
  await scanTotals(sources, await Excludes.create({ exclude: (await readSchedule(ctx.env))?.excludes ?? [] }, sources), totals, ctx.signal);
  await checkRoom(staging, totals.bytes);
  const password = await readPassword({ passwordFile: options.passwordFile, env: ctx.env, stdin: ctx.stdin, stderr: ctx.stderr });
  const vaultStorage = await openTargetStorage(ctx, { location: vaultLocation(registration), token: registration.token, registration });
  await Repository.open(vaultStorage, password, ctx.repoContext);

  const stagingStorage = new FsStorage(staging);
  ctx.cleanups.push(() => stagingStorage.close());
  await replicateKeys(vaultStorage, stagingStorage);
  await Repository.open(stagingStorage, password, ctx.repoContext);

  const client = ServiceClient.forAgent(ctx, registration);
  let created: CreatedImportJob;
  try {
    created = await client.createImportJob(registration.vault.id, { name: options.job, storageAccount: options.storageAccount, container: options.container });
  } catch (err) {
    // Leave the staging folder as it was found (empty), so the command can simply be run again.
    await emptyFolder(staging);
    throw err;
  }
  try {
    await writeSeedFile(staging, { server: registration.server, jobId: created.job.id, jobName: created.job.name, jobToken: created.jobToken, vault: registration.vault });
    await writePendingSeed(ctx.env, { jobId: created.job.id, jobName: created.job.name, staging, startedAt: new Date(ctx.repoContext.clock.now()).toISOString() });
  } catch (err) {
    throw new UserError(`the import job ${created.job.name} was created, but the seed could not be recorded (${(err as Error).message}): cancel it with \`ferry job cancel ${created.job.name}\` and start again`, { cause: err });
  }

  if (options.json) {
    ctx.stdout.write(JSON.stringify({ message_type: 'seed_started', job: created.job, staging, source_files: totals.files, source_bytes: totals.bytes }) + '\n');
  } else {
    ctx.stdout.write(`offline seed started: import job ${created.job.name} (${created.job.state}), staging ${staging}\n`);
    ctx.stdout.write(`sources: ${totals.files} files, ${formatBytes(totals.bytes)} (${sources.join(', ')})\n`);
    ctx.stdout.write(`next: \`ferry backup ${sources.join(' ')}\` (or let \`ferry agent run\` do it) writes the full backup to staging;\n`);
    ctx.stdout.write(`then, on the copy computer: \`ferry diskprep --staging ${staging} --disk PATH…\`\n`);
  }
  return 0;
}

export interface SeedPlanOptions {
  readonly paths?: string[];
  readonly bytes?: number;
  readonly uplink: number;
  readonly diskSize: number;
  readonly shippingDays: number;
  readonly json?: boolean;
}

/** `ferry seed plan`: samples the sources (or takes --bytes), then compares the two routes with the numbers. */
export async function seedPlanCommand(ctx: CliContext, options: SeedPlanOptions): Promise<number> {
  if ((options.paths === undefined) === (options.bytes === undefined)) throw new UserError('give either --paths PATH… (sampled) or --bytes SIZE');
  const estimate = options.paths
    ? await estimateStoredRatio(await seedSourcesFrom(options.paths))
    : { files: undefined, bytes: options.bytes!, sampledBytes: 0, storedRatio: 1 };
  const plan = planSeed({
    sourceBytes: estimate.bytes,
    storedRatio: estimate.storedRatio,
    uplinkBytesPerSecond: options.uplink,
    diskBytes: options.diskSize,
    shippingDays: options.shippingDays,
  });
  if (options.json) {
    ctx.stdout.write(JSON.stringify({ message_type: 'seed_plan', source_bytes: estimate.bytes, files: estimate.files, sampled_bytes: estimate.sampledBytes, stored_ratio: estimate.storedRatio, ...plan, assumed: ASSUMED }) + '\n');
    return 0;
  }
  const days = (seconds: number): string => `${(seconds / 86_400).toFixed(1)} days`;
  const out = ctx.stdout;
  out.write(`sources: ${formatBytes(estimate.bytes)}${estimate.files !== undefined ? ` in ${estimate.files} files` : ''}; `);
  out.write(estimate.sampledBytes > 0 ? `a ${formatBytes(estimate.sampledBytes)} sample stores as ${(estimate.storedRatio * 100).toFixed(0)} % (compression and duplicates)\n` : 'no sample: assuming no compression\n');
  out.write(`to store: about ${formatBytes(plan.storedBytes)}\n`);
  out.write(`online:   ${days(plan.onlineSeconds)} at ${formatBytes(options.uplink)}/s\n`);
  const o = plan.offline;
  out.write(`on disks: ${days(o.totalSeconds)} with ${plan.disks} disk${plan.disks > 1 ? 's' : ''} (staging backup ${days(o.stagingSeconds)}, diskprep ${days(o.diskprepSeconds)}, shipping and receiving ${days(o.shippingSeconds)}, ingest ${days(o.ingestSeconds)})\n`);
  out.write(plan.recommendation === 'offline'
    ? `recommended: offline seeding (\`ferry seed start\`), ${days(plan.onlineSeconds - o.totalSeconds)} sooner\n`
    : 'recommended: back up online (`ferry backup` or `ferry agent run`); disks would not be faster\n');
  return 0;
}

/** The sources: --paths, else the schedule's; each must be a file or folder (what a seed can carry). */
async function seedSources(ctx: CliContext, paths: string[] | undefined): Promise<string[]> {
  const given = paths && paths.length > 0 ? paths : (await readSchedule(ctx.env))?.paths;
  if (!given || given.length === 0) throw new UserError('no sources: pass --paths PATH… or set a schedule first (`ferry schedule set`)');
  return seedSourcesFrom(given);
}

async function seedSourcesFrom(given: readonly string[]): Promise<string[]> {
  const sources = normalizePaths(given);
  for (const path of sources) {
    let st;
    try {
      st = await lstat(path);
    } catch (err) {
      throw new UserError(`cannot seed ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (err as Error).message}`);
    }
    if (!st.isFile() && !st.isDirectory()) {
      throw new UserError(`cannot seed ${path}: offline seeding carries files and folders, and this is a ${st.isSymbolicLink() ? 'symbolic link' : 'special file'}; give the folder or file it stands for`);
    }
  }
  return sources;
}

/** An empty (or new) writable folder, neither inside a source nor holding one. */
async function checkStaging(staging: string, sources: readonly string[]): Promise<void> {
  try {
    await mkdir(staging, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new UserError(`cannot create the staging folder ${staging}: ${(err as Error).message}`, { cause: err });
  }
  const real = await realpath(staging);
  for (const source of sources) {
    const src = await realpath(source);
    if (real === src || real.startsWith(src + sep) || src.startsWith(real + sep)) {
      throw new UserError(`the staging folder ${staging} and the source ${source} overlap: the backup would copy itself; choose a staging folder outside the sources`);
    }
  }
  if ((await readdir(staging)).length > 0) throw new UserError(`the staging folder ${staging} is not empty: choose an empty folder`);
  const probe = join(staging, `.ferry-write-test-${process.pid}`);
  try {
    await writeFile(probe, 'ok');
    await rm(probe);
  } catch (err) {
    throw new UserError(`cannot write to the staging folder ${staging}: ${(err as Error).message}`, { cause: err });
  }
}

/** Room for the sources as they are (compression and deduplication usually need less; never more). */
async function checkRoom(staging: string, bytes: number): Promise<void> {
  const fs = await statfs(staging);
  const free = fs.bavail * fs.bsize;
  if (free < bytes) {
    throw new UserError(`the staging folder has ${formatBytes(free)} free, the sources hold ${formatBytes(bytes)}: free space or choose a larger staging location`);
  }
}

async function emptyFolder(dir: string): Promise<void> {
  for (const name of await readdir(dir)) await rm(join(dir, name), { recursive: true, force: true });
}

/** Copies the vault repository's config and key slots, so staging is a replica (same master key and chunker). */
async function replicateKeys(vault: Storage, staging: Storage): Promise<void> {
  const keys: string[] = [];
  await vault.list(folderOf('key'), (info) => void keys.push(info.key));
  for (const key of keys) await staging.save(key, await vault.load(key));
  await staging.save(CONFIG_KEY, await vault.load(CONFIG_KEY));
}
