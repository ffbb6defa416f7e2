import { UserError } from '../../core/errors.js';
import { looksLikeRecordId } from '../../contract/wire.js';
import type { ImportJob } from '../../contract/import-job.js';
import { readRegistration } from '../agent-state.js';
import { activeRegistration } from '../agent-token.js';
import { agentTokenDeps, type CliContext } from '../context.js';
import { formatBytes, formatDuration, formatRate } from '../format.js';
import { HttpIngestService } from '../http-ingest-service.js';
import { ServiceClient, serviceUrl, type ServiceOptions } from '../service-client.js';
import { resolveImportJob, resolveTenant } from '../service-names.js';

type Options = ServiceOptions & { readonly json?: boolean; readonly tenant?: string };
export type ShipOptions = Options & { readonly carrier: string; readonly tracking: string; readonly returnAddress: string };

/**
 * The client for job commands: --token/FERRY_TOKEN when given, else (on a registered machine) the
 * agent's own token and service, which may see, ship and cancel its vault's jobs.
 */
export async function jobClient(ctx: CliContext, options: ServiceOptions): Promise<ServiceClient> {
  const token = options.token ?? ctx.env.FERRY_TOKEN;
  if (token === undefined || token === '') {
    const stored = await readRegistration(ctx.env);
    if (stored !== undefined) {
      const registration = await activeRegistration(agentTokenDeps(ctx), stored);
      const server = options.server ?? ctx.env.FERRY_SERVER;
      return ServiceClient.forAgent(ctx, registration, { server: serviceUrl(ctx.env, { server: server !== undefined && server !== '' ? server : registration.server }) });
    }
  }
  return ServiceClient.fromOptions(ctx, options);
}

/**
 * `ferry job list [--tenant T]`: the jobs the token may see (a tenant-admin: its tenant's; an admin or
 * operator: every tenant's, or one; an agent: its vault's open job), oldest first; --json the array.
 */
export async function jobListCommand(ctx: CliContext, options: Options): Promise<number> {
  const client = await jobClient(ctx, options);
  const me = await client.whoami();
  let jobs: ImportJob[];
  if (me.role === 'agent') {
    const seed = me.vaultId === undefined ? null : (await client.getVault(me.vaultId)).seed;
    jobs = seed === null ? [] : [await client.getImportJob(seed.jobId)];
  } else if (me.role === 'job') {
    jobs = [await client.getImportJob(me.jobId ?? '')];
  } else if (me.role === 'tenant-admin' || (me.role === 'admin' && options.tenant !== undefined)) {
    jobs = await client.listImportJobs((await resolveTenant(client, options.tenant)).id);
  } else {
    if (options.tenant !== undefined && !looksLikeRecordId(options.tenant)) throw new UserError('an operator token names the tenant by its id');
    jobs = await client.findImportJobs(options.tenant !== undefined ? { tenantId: options.tenant.toLowerCase() } : {});
  }
  if (options.json) {
    ctx.stdout.write(JSON.stringify(jobs) + '\n');
    return 0;
  }
  ctx.stdout.write(`${'Name'.padEnd(24)}${'State'.padEnd(21)}${'Disks'.padEnd(7)}${'Tracking number'.padEnd(26)}ID\n`);
  for (const j of jobs) {
    ctx.stdout.write(`${j.name.padEnd(24)}${j.state.padEnd(21)}${String(j.disks.length).padEnd(7)}${(j.trackingNumber ?? '-').padEnd(26)}${j.id}\n`);
  }
  return 0;
}

/** `ferry job show JOB`: the job with its disks and timeline; --json the job as the API answers it. */
export async function jobShowCommand(ctx: CliContext, ref: string, options: Options): Promise<number> {
  const client = await jobClient(ctx, options);
  const job = await resolveImportJob(client, ref, options.tenant);
  if (options.json) ctx.stdout.write(JSON.stringify(job) + '\n');
  else ctx.stdout.write(describeJob(job, ctx.repoContext.clock.now()));
  return 0;
}

/** `ferry job errors JOB`: the job's error log, oldest first; --json the array as the API answers it. */
export async function jobErrorsCommand(ctx: CliContext, ref: string, options: Options): Promise<number> {
  const client = await jobClient(ctx, options);
  const job = await resolveImportJob(client, ref, options.tenant);
  const errors = await new HttpIngestService(client).listErrors(job.id);
  if (options.json) {
    ctx.stdout.write(JSON.stringify(errors) + '\n');
    return 0;
  }
  if (errors.length === 0) {
    ctx.stdout.write(`import job ${job.name} (${job.state}) has no errors\n`);
    return 0;
  }
  ctx.stdout.write(`import job ${job.name} (${job.state}): ${errors.length} error${errors.length === 1 ? '' : 's'}\n`);
  ctx.stdout.write(`${'Time'.padEnd(26)}${'Disk'.padEnd(6)}${'Code'.padEnd(19)}Path\n`);
  for (const e of errors) {
    ctx.stdout.write(`${e.at.padEnd(26)}${(e.diskIndex === null ? '-' : String(e.diskIndex + 1)).padEnd(6)}${e.code.padEnd(19)}${e.path ?? '-'}\n`);
    ctx.stdout.write(`${' '.repeat(32)}${e.message.replace(/\n/g, `\n${' '.repeat(32)}`)}\n`);
  }
  return 0;
}

/** `ferry job ship JOB --carrier C --tracking T --return-address TEXT`: the job moves to Shipping (or its shipping information changes). */
export async function jobShipCommand(ctx: CliContext, ref: string, options: ShipOptions): Promise<number> {
  const client = await jobClient(ctx, options);
  const job = await resolveImportJob(client, ref, options.tenant);
  const shipped = await client.shipImportJob(job.id, { carrier: options.carrier, trackingNumber: options.tracking, returnAddress: options.returnAddress });
  if (options.json) ctx.stdout.write(JSON.stringify(shipped) + '\n');
  else ctx.stdout.write(`import job ${shipped.name} is ${shipped.state}: ${shipped.carrier ?? ''}, tracking number ${shipped.trackingNumber ?? ''}\n`);
  return 0;
}

/** `ferry job cancel JOB`: only before the disks are received. */
export async function jobCancelCommand(ctx: CliContext, ref: string, options: Options): Promise<number> {
  const client = await jobClient(ctx, options);
  const job = await resolveImportJob(client, ref, options.tenant);
  const cancelled = await client.cancelImportJob(job.id);
  if (options.json) ctx.stdout.write(JSON.stringify(cancelled) + '\n');
  else ctx.stdout.write(`import job ${cancelled.name} is ${cancelled.state}\n`);
  return 0;
}

/** The human-readable page of `ferry job show`; `now` (ms) dates the ingest's ETA. */
export function describeJob(job: ImportJob, now: number = Date.now()): string {
  const lines = [
    `Import job ${job.name} (id ${job.id})`,
    `  state:            ${job.state}`,
    `  vault:            ${job.vaultId}`,
    `  ingest into:      storage account ${job.storageAccountId}, container ${job.container}`,
    `  created:          ${job.createdAt}`,
    `  disks prepared:   ${job.preparedAt ?? 'not yet'}`,
  ];
  if (job.state === 'Creating' && job.trackingDeadline !== null) lines.push(`  tracking due by:  ${job.trackingDeadline} (else the job is deleted)`);
  if (job.carrier !== null) lines.push(`  shipped with:     ${job.carrier}, tracking number ${job.trackingNumber ?? ''}`);
  if (job.returnAddress !== null) lines.push(`  return address:   ${job.returnAddress.replace(/\n/g, '\n                    ')}`);
  if (job.shippedAt !== null) lines.push(`  shipped:          ${job.shippedAt}`);
  if (job.receivedAt !== null) lines.push(`  received:         ${job.receivedAt}`);
  if (job.errorCount > 0) lines.push(`  errors:           ${job.errorCount} (ferry job errors ${job.name})`);
  if (job.adoption !== null) lines.push(`  adoption:         ${describeAdoption(job.adoption)}`);
  lines.push('', `Disks (${job.disks.length}):`);
  for (const d of job.disks) {
    lines.push(`  ${String(d.index).padStart(2)}  ${d.id}  ${d.state.padEnd(20)}${String(d.files).padStart(9)} files  ${formatBytes(d.bytes)}`);
    if (d.progress !== null) lines.push(`      ingest: ${describeProgress(d, d.progress, now)}`);
  }
  lines.push('', 'Timeline:');
  for (const e of job.timeline) lines.push(`  ${e.at}  ${e.state.padEnd(20)}${e.actor}${e.note !== undefined ? `: ${e.note}` : ''}`);
  return lines.join('\n') + '\n';
}

type JobDisk = ImportJob['disks'][number];

/**
 * One disk's ingest: bytes and files done, the rate from its start to its last report, and (while it
 * runs) the time left at that rate. The disk's bytes include its encryption overhead (16 bytes per
 * MiB and the manifest), so the share is a close estimate.
 */
export function describeProgress(disk: JobDisk, progress: NonNullable<JobDisk['progress']>, now: number): string {
  const elapsed = Date.parse(progress.updatedAt) - Date.parse(progress.startedAt);
  // The estimate never says 100 % before every file is through, nor less once they all are.
  const allFiles = progress.filesDone + progress.filesFailed >= disk.files;
  const share = allFiles ? 100 : disk.bytes > 0 ? Math.min(99, Math.floor((progress.bytesDone / disk.bytes) * 100)) : 0;
  const failed = progress.filesFailed > 0 ? `, ${progress.filesFailed} failed` : '';
  const parts = [`${formatBytes(progress.bytesDone)} of ${formatBytes(disk.bytes)} (${share}%), ${progress.filesDone}/${disk.files} files${failed}`];
  if (elapsed > 0) parts.push(formatRate(progress.bytesDone, elapsed));
  if (disk.state === 'Transferring') {
    const rate = elapsed > 0 ? progress.bytesDone / elapsed : 0;
    const left = Math.max(0, disk.bytes - progress.bytesDone);
    if (rate > 0 && left > 0) parts.push(`ETA ${formatDuration(left / rate)}`);
    const silent = now - Date.parse(progress.updatedAt);
    if (silent > 60_000) parts.push(`last report ${formatDuration(silent)} ago`);
  }
  return parts.join(', ');
}

/** The adoption's state and how far it is. */
export function describeAdoption(adoption: NonNullable<ImportJob['adoption']>): string {
  const total = adoption.objectsTotal !== null ? `/${adoption.objectsTotal}` : '';
  const excluded = adoption.excluded > 0 ? `, ${adoption.excluded} excluded` : '';
  const copy = adoption.serverSideCopy ? ', server-side copy' : '';
  const end = adoption.finishedAt !== null ? `, finished ${adoption.finishedAt}` : `, started ${adoption.startedAt}`;
  const error = adoption.error !== null ? `: ${adoption.error}` : '';
  return `${adoption.state}, ${adoption.objectsDone}${total} objects, ${formatBytes(adoption.bytesDone)}${excluded}${copy}${end}${error}`;
}
