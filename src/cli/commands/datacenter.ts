import { isAbsolute } from 'node:path';
import { setMmapThreshold } from '../../engine/os/posix-extras.js';
import { runIngest, type IngestIO, type IngestResult } from '../../datacenter/ingest.js';
import type { DiskProgress } from '../../datacenter/ingest-types.js';
import { ServiceIngestEvent } from '../../contract/ingest.js';
import { UserError } from '../../core/errors.js';
import { FINAL_DISK_STATES, INGESTING_JOB_STATES } from '../../contract/job-states.js';
import { HttpStorage } from '../../storage/http/http-storage.js';
import type { CliContext } from '../context.js';
import { formatBytes, formatDuration, formatRate } from '../format.js';
import { HttpIngestService } from '../http-ingest-service.js';
import { ServiceClient, ServiceRequestError, type ServiceOptions } from '../service-client.js';
import { serviceTransport } from '../service-trust.js';
import { resolveImportJob } from '../service-names.js';

type Options = ServiceOptions & { readonly json?: boolean; readonly tenant?: string };
export type IngestOptions = Options & { readonly disk: string[]; readonly workers?: number; readonly onService?: boolean };

/** `ferry datacenter receive JOB`: Shipping → Received. */
export async function receiveCommand(ctx: CliContext, ref: string, options: Options): Promise<number> {
  const client = ServiceClient.fromOptions(ctx, options);
  const job = await resolveImportJob(client, ref, options.tenant);
  const received = await new HttpIngestService(client).receive(job.id);
  if (options.json) {
    ctx.stdout.write(JSON.stringify(received) + '\n');
    return 0;
  }
  const disks = received.disks.length;
  ctx.stdout.write(`import job ${received.name} is ${received.state}: ${disks} disk${disks === 1 ? '' : 's'} expected\n`);
  ctx.stdout.write(`ingest them (in any order, several at once): ferry datacenter ingest ${received.name} --disk PATH [--disk PATH…]\n`);
  return 0;
}

/** `ferry datacenter ingest JOB --disk PATH…`: see docs/datacenter.md. Exit code per the contract. */
export async function ingestCommand(ctx: CliContext, ref: string, options: IngestOptions): Promise<number> {
  allocateForThroughput();
  const client = ServiceClient.fromOptions(ctx, options);
  const job = await resolveImportJob(client, ref, options.tenant);
  if (options.onService) return ingestOnService(ctx, client, job.id, options);
  const storage = new HttpStorage({ url: `${client.baseUrl}/v1/import-jobs/${encodeURIComponent(job.id)}`, token: (options.token ?? ctx.env.FERRY_TOKEN)!, transport: serviceTransport(ctx) });
  ctx.cleanups.push(() => storage.close());
  const display = new IngestDisplay(ctx, options.json === true);
  let result: IngestResult;
  try {
    result = await runIngest({
      service: new HttpIngestService(client),
      storage,
      jobId: job.id,
      disks: options.disk,
      io: display,
      clock: ctx.repoContext.clock,
      signal: ctx.signal,
      failpoints: ctx.repoContext.failpoints,
      ...(options.workers !== undefined ? { workers: options.workers } : {}),
    });
  } finally {
    display.stop();
  }
  return reportOutcome(ctx, options, result);
}

/**
 * `--on-service`: the service reads the disks itself, from their paths on its host (under its
 * `--ingest-root`), and streams the disks' progress and the outcome back; shown as a local ingest is. An
 * interrupt (Ctrl-C) ends the request, and the service stops the ingest: what finished is recorded.
 */
async function ingestOnService(ctx: CliContext, client: ServiceClient, jobId: string, options: IngestOptions): Promise<number> {
  if (options.workers !== undefined) throw new UserError("--workers sets this command's reading threads: with --on-service the service reads the disks");
  const relative = options.disk.find((disk) => !isAbsolute(disk));
  if (relative !== undefined) throw new UserError(`--disk ${relative}: with --on-service give the absolute path of the disk on the service's host`);
  const display = new IngestDisplay(ctx, options.json === true);
  let disks: DiskProgress[] = [];
  let result: IngestResult | undefined;
  try {
    for await (const event of client.events(ServiceIngestEvent, 'POST', `/v1/import-jobs/${encodeURIComponent(jobId)}/service-ingest`, { disks: options.disk })) {
      if (event.type === 'started') {
        disks = event.disks;
        display.started(disks);
      } else if (event.type === 'progress') {
        const before = filesDone(disks);
        event.disks.forEach((counters, i) => Object.assign(disks[i] ?? {}, counters));
        if (filesDone(disks) > before) ctx.repoContext.failpoints?.hit('service-ingest-file-reported');
      } else if (event.type === 'note') {
        display.note(event.message);
      } else if (event.type === 'done') {
        result = { job: event.job, disks: event.disks, exitCode: event.exitCode };
      } else {
        throw new ServiceRequestError(500, event.code, `the ingest on the service failed: ${event.message}`);
      }
    }
  } finally {
    // An interrupt (Ctrl-C) ends the request here; main reports it as the stop itself.
    display.stop();
  }
  if (result === undefined) throw new UserError('the service ended the ingest without its outcome (was it stopped?): run the same command again to resume');
  return reportOutcome(ctx, options, result);
}

const filesDone = (disks: readonly DiskProgress[]): number => disks.reduce((sum, disk) => sum + disk.filesDone, 0);

/** Prints the outcome (a summary, or one JSON line with --json) and answers the exit code of the contract. */
function reportOutcome(ctx: CliContext, options: IngestOptions, result: IngestResult): number {
  if (options.json) ctx.stdout.write(JSON.stringify({ message_type: 'ingest_summary', exitCode: result.exitCode, job: { id: result.job.id, name: result.job.name, state: result.job.state, errorCount: result.job.errorCount }, disks: result.disks }) + '\n');
  else printSummary(ctx, result);
  return result.exitCode;
}

function printSummary(ctx: CliContext, result: IngestResult): void {
  const out = ctx.stdout;
  for (const d of result.disks) {
    const which = d.index === null ? 'disk ?' : `disk ${d.index + 1}`;
    if (d.state === 'Refused' || d.state === 'Stopped' || d.alreadyFinal) {
      out.write(`${which}  ${d.given}  ${d.state}: ${d.message}\n`);
      continue;
    }
    const before = d.filesBefore > 0 ? `, ${d.filesBefore} done by an earlier run` : '';
    const failed = d.filesFailed > 0 ? `, ${d.filesFailed} failed` : '';
    out.write(`${which}  ${d.given}  ${d.state}: ${plural(d.filesOk, 'file')} ingested (${formatBytes(d.bytesUploaded)} uploaded)${failed}${before}\n`);
  }
  const job = result.job;
  const errors = job.errorCount > 0 ? `, ${job.errorCount} entr${job.errorCount === 1 ? 'y' : 'ies'} in its error log: ferry job errors ${job.name}` : '';
  out.write(`import job ${job.name} is ${job.state}${errors}\n`);
  const waiting = job.disks.filter((d) => !FINAL_DISK_STATES.includes(d.state)).map((d) => d.index + 1);
  if (waiting.length > 0 && INGESTING_JOB_STATES.includes(job.state)) out.write(`disk${waiting.length === 1 ? '' : 's'} ${waiting.join(', ')} still to ingest\n`);
}

/**
 * Progress of the disks being ingested: on a terminal one line redrawn 4 times a second (each disk's
 * share, rate and ETA); with --json a status line per second; otherwise a line when each disk starts
 * and ends. Notes go to stderr.
 */
class IngestDisplay implements IngestIO {
  private disks: readonly DiskProgress[] = [];
  private readonly shown = new Map<DiskProgress, DiskProgress['phase']>();
  private readonly timer: NodeJS.Timeout;
  private readonly mode: 'tty' | 'json' | 'lines';

  constructor(
    private readonly ctx: CliContext,
    json: boolean,
  ) {
    this.mode = json ? 'json' : ctx.stdout.isTTY ? 'tty' : 'lines';
    this.timer = setInterval(() => this.draw(), this.mode === 'tty' ? 250 : 1000);
    this.timer.unref();
  }

  note(message: string): void {
    if (this.mode === 'tty') this.ctx.stdout.write('\r\x1b[K');
    this.ctx.stderr.write(`${message}\n`);
  }

  started(disks: readonly DiskProgress[]): void {
    this.disks = disks;
  }

  stop(): void {
    clearInterval(this.timer);
    this.draw();
    if (this.mode === 'tty') this.ctx.stdout.write('\r\x1b[K');
  }

  private draw(): void {
    const now = this.ctx.repoContext.clock.now();
    if (this.mode === 'json') {
      const active = this.disks.filter((d) => d.phase === 'ingesting' || d.phase === 'finishing');
      if (active.length > 0) this.ctx.stdout.write(JSON.stringify({ message_type: 'status', disks: active.map((d) => ({ disk: d.number, path: d.given, ...figures(d, now) })) }) + '\n');
      return;
    }
    if (this.mode === 'lines') {
      for (const d of this.disks) {
        const last = this.shown.get(d);
        if (d.phase === last || d.phase === 'identifying') continue;
        this.shown.set(d, d.phase);
        if (d.phase === 'ingesting' || (last === undefined && d.phase !== 'done')) this.ctx.stderr.write(`disk ${d.number}: ingesting ${plural(d.totalFiles - d.filesBefore, 'file')} (${formatBytes(d.totalBytes - d.bytesBefore)}) from ${d.given}\n`);
        if (d.phase === 'done' && d.totalFiles > 0) {
          const f = figures(d, now);
          this.ctx.stderr.write(`disk ${d.number}: done, ${plural(d.filesDone - d.filesBefore, 'file')}, ${formatBytes(f.bytesThisRun)} in ${formatDuration(f.elapsedMs)} (${formatRate(f.bytesThisRun, f.elapsedMs)})\n`);
        }
      }
      return;
    }
    const parts = this.disks
      .filter((d) => d.phase === 'ingesting' || d.phase === 'finishing')
      .map((d) => {
        const f = figures(d, now);
        const eta = f.etaMs !== undefined ? ` ETA ${formatDuration(f.etaMs)}` : '';
        return `disk ${d.number} ${Math.floor(f.fraction * 100)}% ${formatBytes(d.bytesDone)}/${formatBytes(d.totalBytes)} ${formatRate(f.bytesThisRun, f.elapsedMs)}${eta}`;
      });
    if (parts.length === 0) return;
    const line = parts.join(' | ');
    this.ctx.stdout.write(`\r\x1b[K${line.slice(0, (this.ctx.stdout.columns || 120) - 1)}`);
  }
}

/** A disk's share done, this run's bytes and time, and the time left at this run's rate. */
function figures(d: DiskProgress, now: number): { fraction: number; bytesThisRun: number; elapsedMs: number; etaMs?: number; filesDone: number; totalFiles: number; bytesDone: number; totalBytes: number } {
  const elapsedMs = Math.max(0, now - d.startedAt);
  const bytesThisRun = d.bytesDone - d.bytesBefore;
  const rate = elapsedMs > 0 ? bytesThisRun / elapsedMs : 0;
  const fraction = d.totalBytes > 0 ? d.bytesDone / d.totalBytes : d.totalFiles > 0 ? d.filesDone / d.totalFiles : 0;
  return {
    fraction,
    bytesThisRun,
    elapsedMs,
    ...(rate > 0 ? { etaMs: (d.totalBytes - d.bytesDone) / rate } : {}),
    filesDone: d.filesDone,
    totalFiles: d.totalFiles,
    bytesDone: d.bytesDone,
    totalBytes: d.totalBytes,
  };
}

/** As diskprep (commands/diskprep.ts): recycle the multi-MiB read and plaintext buffers instead of mapping fresh ones. */
function allocateForThroughput(): void {
  try {
    setMmapThreshold(32 * 1024 * 1024);
  } catch {
    // Without the addon ingest still works, only with more system time.
  }
}

const plural = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;
