import { realpath } from 'node:fs/promises';
import { UserError } from '../../core/errors.js';
import { systemRandom } from '../../core/random.js';
import { setMmapThreshold } from '../../engine/os/posix-extras.js';
import { runDiskprep, type DiskprepResult } from '../../seed/diskprep.js';
import { readSeedFile } from '../../seed/seed-file.js';
import { FsStorage } from '../../storage/fs/fs-storage.js';
import type { CliContext } from '../context.js';
import { diskprepIO } from '../diskprep-io.js';
import { formatBytes } from '../format.js';
import { HttpJobService } from '../http-job-service.js';
import { readRegistration } from '../agent-state.js';
import { ServiceClient } from '../service-client.js';
import { serviceTransport } from '../service-trust.js';

export interface DiskprepOptions {
  readonly staging: string;
  readonly disk: string[];
  readonly yes?: boolean;
  readonly maxBytesPerDisk?: number;
  readonly replaceDisk?: string;
  readonly job?: string;
  readonly json?: boolean;
}

/**
 * `ferry diskprep`: reads FERRY-SEED.json from the staging location, fills, verifies and registers the
 * disks, marks the import job prepared and prints the disks, the job and the shipping address.
 */
export async function diskprepCommand(ctx: CliContext, options: DiskprepOptions): Promise<number> {
  allocateForThroughput();
  let staging: string;
  try {
    staging = await realpath(options.staging);
  } catch (err) {
    throw new UserError(`cannot use the staging location ${options.staging}: ${(err as Error).message}`, { cause: err });
  }
  const seed = await readSeedFile(staging);
  if (options.job !== undefined && options.job !== seed.jobName && options.job !== seed.jobId) {
    throw new UserError(`the staging location ${staging} is import job ${seed.jobName}'s, not ${options.job}`);
  }
  // Staging is read once, in block-aligned runs into recycled buffers: past the page cache (FsStorage).
  const storage = new FsStorage(staging, { directReads: true });
  ctx.cleanups.push(() => storage.close());
  const jobs = new HttpJobService(await jobServiceClient(ctx, seed.server.replace(/\/+$/, ''), seed.jobToken));
  const max = options.maxBytesPerDisk !== undefined ? ` --max-bytes-per-disk ${options.maxBytesPerDisk}` : '';
  const result = await runDiskprep({
    staging: storage,
    stagingDir: staging,
    seed,
    jobs,
    disks: options.disk,
    ...(options.maxBytesPerDisk !== undefined ? { maxBytesPerDisk: options.maxBytesPerDisk } : {}),
    ...(options.replaceDisk !== undefined ? { replaceDisk: options.replaceDisk } : {}),
    io: diskprepIO(ctx, { yes: options.yes === true, json: options.json === true }),
    clock: ctx.repoContext.clock,
    random: systemRandom,
    signal: ctx.signal,
    pid: ctx.pid,
    hostname: ctx.repoContext.hostname,
    isAlive: processIsAlive,
    resumeCommand: `ferry diskprep --staging ${shellWord(staging)} --disk NEW-DISK${max}`,
    failpoints: ctx.repoContext.failpoints,
  });
  if (options.json) ctx.stdout.write(JSON.stringify(jsonSummary(result)) + '\n');
  else if (options.replaceDisk !== undefined) printReplacement(ctx, result);
  else printSummary(ctx, result);
  return 0;
}

function jsonSummary(r: DiskprepResult): Record<string, unknown> {
  return {
    message_type: 'diskprep_summary',
    alreadyPrepared: r.alreadyPrepared,
    job: { id: r.job.id, name: r.job.name, state: r.job.state, preparedAt: r.job.preparedAt, trackingDeadline: r.job.trackingDeadline },
    disks: r.disks.map((d) => ({ index: d.index, id: d.diskId, path: d.path, files: d.files, bytes: d.bytes })),
    shippingAddress: r.shippingAddress,
    skipped: r.vanished,
  };
}

function printSummary(ctx: CliContext, r: DiskprepResult): void {
  const out = ctx.stdout;
  out.write(`${r.alreadyPrepared ? 'already prepared' : 'prepared'}: ${r.disks.length} disk${r.disks.length === 1 ? '' : 's'} for import job ${r.job.name} (${r.job.id}), ${r.job.state}\n`);
  for (const d of r.disks) {
    out.write(`  disk ${d.index + 1}  ${d.path}  ${d.files} file${d.files === 1 ? '' : 's'}  ${formatBytes(d.bytes)}  id ${d.diskId}\n`);
  }
  out.write(`ship the disks to:\n${r.shippingAddress.split('\n').map((line) => `  ${line}`).join('\n')}\n`);
  const by = r.job.trackingDeadline ? ` by ${r.job.trackingDeadline}` : '';
  out.write(`then enter the carrier and tracking number${by}, or the job is deleted: ferry job ship ${r.job.name} --carrier C --tracking T --return-address TEXT\n`);
}

function printReplacement(ctx: CliContext, r: DiskprepResult): void {
  const out = ctx.stdout;
  out.write(`${r.alreadyPrepared ? 'already replaced' : 'replaced'}: import job ${r.job.name} (${r.job.id}), ${r.job.state}, now has these disks:\n`);
  for (const d of r.disks) out.write(`  disk ${d.index + 1}  ${d.path}  ${d.files} file${d.files === 1 ? '' : 's'}  ${formatBytes(d.bytes)}  id ${d.diskId}\n`);
  out.write(`ship the new disk to:\n${r.shippingAddress.split('\n').map((line) => `  ${line}`).join('\n')}\n`);
  out.write('the old disk is refused at the datacenter from now on; ');
  out.write(
    r.job.state === 'Creating' || r.job.state === 'Shipping'
      ? `enter the new disk's carrier and tracking number: ferry job ship ${r.job.name} --carrier C --tracking T --return-address TEXT\n`
      : 'tell the datacenter that a replacement disk is on its way\n',
  );
}

/**
 * main.ts gives every buffer of 1 MiB or more its own mapping to keep backups lean; diskprep allocates
 * such buffers at disk speed (8 MiB reads, 1 MiB segments on every thread), and fresh mappings cost a
 * page fault per 4 KiB: measured on 543 MiB of staging, 2.9 s of system time against 1.2 s when glibc
 * recycles them (32 MiB threshold), and 3.5 s against 2.5 s in all.
 */
function allocateForThroughput(): void {
  try {
    setMmapThreshold(32 * 1024 * 1024);
  } catch {
    // Without the addon diskprep still works, only with more system time.
  }
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A path as one shell word (quoted when it needs to be). */
function shellWord(path: string): string {
  return /^[A-Za-z0-9_./:@%+=-]+$/.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`;
}

/**
 * The client diskprep reports with: the seed file's service and job token, trusting --ca-cert/FERRY_CA_CERT,
 * else (on the registered machine that started the seed) the CA pinned at registration, else the system's.
 */
async function jobServiceClient(ctx: CliContext, server: string, jobToken: string): Promise<ServiceClient> {
  const registration = await readRegistration(ctx.env);
  const pinned = registration !== undefined && registration.server.replace(/\/+$/, '') === server ? registration : undefined;
  return new ServiceClient(server, jobToken, ctx.signal, serviceTransport(ctx, pinned));
}
