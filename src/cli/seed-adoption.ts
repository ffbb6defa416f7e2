import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InterruptedError, isErrno, UserError } from '../core/errors.js';
import { shortId } from '../core/ids.js';
import { Repository } from '../engine/repository/repository.js';
import { adoptImport, type AdoptionEvent, type AdoptionOutcome } from '../seed/adoption/adopt-import.js';
import type { AdoptionService } from '../seed/adoption/adoption-service.js';
import { seedStepOf } from '../seed/adoption/seed-step.js';
import { describeDefect, snapshotsNotWhole } from '../seed/adoption/snapshot-health.js';
import { ImportJob } from '../contract/import-job.js';
import { ErrorLog, type ErrorLogEntry } from '../contract/ingest.js';
import type { JobState } from '../contract/job-states.js';
import type { Storage } from '../storage/storage.js';
import { sleep } from '../agent/agent-loop.js';
import { vaultLocation, writeAdoptedSeed, type AgentRegistration } from './agent-state.js';
import { openTargetStorage, type CliContext, type RepositoryTarget } from './context.js';
import { formatBytes } from './format.js';
import { readPassword } from './password.js';
import { ServiceClient } from './service-client.js';

/** The adoption routes of the service over HTTP, with the agent token; answers read through the contract's schemas (errors: `ServiceRequestError`, `UnexpectedAnswerError`). */
export class HttpAdoptionService implements AdoptionService {
  constructor(private readonly client: ServiceClient) {}

  getJob(jobId: string): Promise<ImportJob> {
    return this.client.requestChecked(ImportJob, 'GET', `/v1/import-jobs/${encodeURIComponent(jobId)}`);
  }
  async listErrors(jobId: string): Promise<readonly ErrorLogEntry[]> {
    return (await this.client.requestChecked(ErrorLog, 'GET', `/v1/import-jobs/${encodeURIComponent(jobId)}/errors`)).errors;
  }
  requestAdoption(jobId: string, exclude: readonly string[]): Promise<ImportJob> {
    return this.client.requestChecked(ImportJob, 'POST', `/v1/import-jobs/${encodeURIComponent(jobId)}/adopt`, { exclude });
  }
  closeJob(jobId: string): Promise<ImportJob> {
    return this.client.requestChecked(ImportJob, 'POST', `/v1/import-jobs/${encodeURIComponent(jobId)}/close`, {});
  }
}

/** The agent's adoption service, from its registration. */
export function adoptionServiceFor(ctx: CliContext, registration: AgentRegistration): HttpAdoptionService {
  return new HttpAdoptionService(ServiceClient.forAgent(ctx, registration));
}

/** The import of a job as a Storage (route 8: the vault object protocol under `/v1/import-jobs/<id>`); closed at exit. */
export function openImportStorage(ctx: CliContext, registration: AgentRegistration, jobId: string): Promise<Storage> {
  const location = `${registration.server.replace(/\/+$/, '')}/v1/import-jobs/${encodeURIComponent(jobId)}`;
  return openTargetStorage(ctx, { location, token: registration.token, registration });
}

/** Where a backup of a machine with a pending seed goes, and what to say about it. */
export interface SeedFollowUp {
  readonly target: RepositoryTarget;
  /** The context to run the backup with: carries the passphrase when adoption already read it (no second prompt). */
  readonly ctx: CliContext;
  /** Set when this run adopted the import (the backup then goes to the vault). */
  readonly adopted?: AdoptionOutcome;
  /** The job's state, when the backup still goes to staging and the service could tell. */
  readonly jobState?: JobState;
}

/**
 * Reads the pending seed's job and decides where this backup goes: to staging while the disks travel
 * (or when the job ended, with a warning saying what to do); for a Completed job, adopts the import
 * (heal, request, wait with progress), records the seed adopted, and sends the backup to the vault.
 * All or nothing: anything short of a Done adoption leaves the seed pending and the backup goes to
 * staging with a warning (the next backup tries again); only an interruption (SIGINT/SIGTERM) is thrown.
 */
export async function followSeed(ctx: CliContext, target: RepositoryTarget, options: { passwordFile?: string; json?: boolean }): Promise<SeedFollowUp> {
  const seed = target.seed!;
  const registration = target.registration!;
  const warn = (text: string): void => void ctx.stderr.write(`warning: ${text}\n`);
  const service = adoptionServiceFor(ctx, registration);
  let job: ImportJob;
  try {
    job = await service.getJob(seed.jobId);
  } catch (err) {
    if (err instanceof InterruptedError || ctx.signal.aborted) throw err;
    warn(`cannot read import job ${seed.jobName} from the service (${(err as Error).message}): this backup goes to the staging location as before`);
    return { target, ctx };
  }
  const step = seedStepOf(job, seed.staging);
  if (step.kind === 'travelling' || step.kind === 'ended') {
    if (!(await openStaging(ctx, seed.staging))) {
      throw new UserError(
        `the staging location ${seed.staging} of the offline seed is gone, and import job ${seed.jobName} is ${job.state}: backups go to staging until the import is adopted, so they cannot run. ` +
          (step.kind === 'ended' ? `End the seed with \`ferry seed abandon ${seed.jobName}\` (backups then go to the vault online)` : 'Bring the staging folder back (the same path), or wait until the import is complete: then the next backup adopts it without staging'),
      );
    }
    if (step.kind === 'ended') warn(step.warning);
    return { target, ctx, jobState: job.state };
  }
  const password = await readPassword({ passwordFile: options.passwordFile, env: ctx.env, stdin: ctx.stdin, stderr: ctx.stderr });
  // The backup opens the vault again: hand it the passphrase read here instead of prompting twice.
  const runCtx: CliContext = { ...ctx, env: { ...ctx.env, FERRY_PASSWORD: password } };
  const vaultTarget: RepositoryTarget = { location: vaultLocation(registration), token: registration.token, registration };
  const progress = adoptionProgress(ctx, job.name, options.json === true);
  try {
    const vault = await Repository.open(await openTargetStorage(ctx, vaultTarget), password, ctx.repoContext);
    const outcome = await adoptImport({
      service,
      jobId: seed.jobId,
      imported: await openImportStorage(ctx, registration, seed.jobId),
      staging: await openStaging(ctx, seed.staging),
      encryptionKey: vault.key.encryptionKey,
      sleep,
      signal: ctx.signal,
      onEvent: progress.event,
      failpoints: ctx.repoContext.failpoints,
    });
    await writeAdoptedSeed(ctx.env, seed, new Date(ctx.repoContext.clock.now()).toISOString(), outcome.seededSnapshots);
    progress.done(outcome, registration.vault.name);
    return { target: vaultTarget, ctx: runCtx, adopted: outcome };
  } catch (err) {
    progress.stop();
    if (err instanceof InterruptedError || ctx.signal.aborted) throw err;
    warn(`the adoption of import job ${seed.jobName} did not finish: ${(err as Error).message}. This backup goes to the staging location ${seed.staging}; the next backup tries the adoption again`);
    return { target, ctx: runCtx, jobState: job.state };
  }
}

/**
 * After the first backup to the vault: names every snapshot lost in transit that nothing could re-send,
 * and every snapshot of the vault that is still not whole ("cannot be made whole"). Returns how many.
 */
export async function reportUnhealedSnapshots(ctx: CliContext, follow: SeedFollowUp, json: boolean): Promise<number> {
  const outcome = follow.adopted!;
  const lines = outcome.lostSnapshots.map((id) => `snapshot ${shortId(id)} was lost in transit and the staging location is gone: it cannot be made whole and is not in the vault`);
  // followSeed put the passphrase it read into the follow-up's context.
  const vault = await Repository.open(await openTargetStorage(ctx, follow.target), follow.ctx.env.FERRY_PASSWORD ?? '', ctx.repoContext);
  await vault.loadIndex();
  const defects = await snapshotsNotWhole(vault, await vault.listSnapshots());
  lines.push(...defects.map((d) => `cannot be made whole: ${describeDefect(d)}`));
  for (const line of lines) ctx.stderr.write(`warning: ${line}\n`);
  if (json) {
    ctx.stdout.write(JSON.stringify({ message_type: 'adoption_check', lost_snapshots: outcome.lostSnapshots, not_whole: defects.map((d) => ({ id: d.id, time: d.time, paths: d.paths, defects: d.defects, first: d.first })) }) + '\n');
  } else if (lines.length === 0 && outcome.lostPacks.length > 0) {
    ctx.stdout.write(`the data of the ${outcome.lostPacks.length} pack(s) lost in transit was read again from the source: every snapshot in the vault is whole\n`);
  }
  return lines.length;
}

/** The staging repository when its folder still holds one, else undefined (staging removed). */
export async function openStaging(ctx: CliContext, dir: string): Promise<Storage | undefined> {
  try {
    await stat(join(dir, 'config'));
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return undefined;
    throw err;
  }
  return openTargetStorage(ctx, { location: dir });
}

/** Adoption progress: a redrawn line on a terminal, a few log lines otherwise, JSON lines with --json. */
function adoptionProgress(ctx: CliContext, jobName: string, json: boolean): { event: (e: AdoptionEvent) => void; done: (o: AdoptionOutcome, vault: string) => void; stop: () => void } {
  const tty = !json && ctx.stdout.isTTY === true;
  const clock = ctx.repoContext.clock;
  let lastLog = 0;
  let announced = new Set<string>();
  const line = (text: string): void => {
    if (tty) ctx.stdout.write(`\r\x1b[K${text}`);
  };
  const log = (kind: string, text: string, fields: Record<string, unknown>, every = 0): void => {
    if (tty) return;
    const now = clock.now();
    if (announced.has(kind) && (every === 0 || now - lastLog < every)) return;
    announced.add(kind);
    lastLog = now;
    ctx.stdout.write(json ? JSON.stringify({ message_type: 'adoption', phase: kind, job: jobName, ...fields }) + '\n' : `${text}\n`);
  };
  const stop = (): void => {
    if (tty) ctx.stdout.write('\r\x1b[K');
  };
  return {
    event(e) {
      switch (e.kind) {
        case 'upload': {
          const p = e.progress;
          if (p.objectsTotal === 0) return;
          const text = `re-sending to the import what it lacks: ${p.objectsDone}/${p.objectsTotal} objects, ${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}`;
          line(text);
          log('upload', text, { objects_done: p.objectsDone, objects_total: p.objectsTotal, bytes_done: p.bytesDone, bytes_total: p.bytesTotal });
          return;
        }
        case 'replaced':
          stop();
          ctx.stderr.write(`warning: ${e.lostPacks.length} pack(s) lost in transit cannot be re-sent (no staging holds them): ${e.excluded.length} index file(s) are left out of the adoption and replaced; the backup reads the lost data again from the source\n`);
          return;
        case 'requested':
          stop();
          log('requested', `import job ${jobName} is ${e.job.state}: the service adopts it into the vault`, { state: e.job.state });
          return;
        case 'waiting': {
          const a = e.adoption;
          const text = `waiting for the service to adopt import job ${jobName}: ${a.objectsDone}${a.objectsTotal === null ? '' : `/${a.objectsTotal}`} objects, ${formatBytes(a.bytesDone)} copied`;
          line(text);
          log('waiting', text, { objects_done: a.objectsDone, objects_total: a.objectsTotal, bytes_done: a.bytesDone }, 30_000);
          return;
        }
      }
    },
    done(o, vault) {
      stop();
      const a = o.job.adoption;
      const copied = a ? `${a.objectsDone} objects, ${formatBytes(a.bytesDone)}, server-side copy: ${a.serverSideCopy ? 'yes' : 'no'}` : 'done';
      announced = new Set();
      log('done', `import job ${o.job.name} adopted (${copied}); backups go to vault "${vault}" from now on`, {
        state: o.job.state,
        objects: a?.objectsDone ?? null,
        bytes: a?.bytesDone ?? null,
        uploaded_objects: o.uploaded.objects,
        uploaded_bytes: o.uploaded.bytes,
        lost_packs: o.lostPacks.length,
        excluded: o.excluded,
        seeded_snapshots: o.seededSnapshots,
      });
      if (tty) ctx.stdout.write(`import job ${o.job.name} adopted (${copied}); backups go to vault "${vault}" from now on\n`);
    },
    stop,
  };
}
