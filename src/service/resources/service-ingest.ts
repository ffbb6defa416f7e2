/**
 * Ingest on the service's host (docs/datacenter.md, "Ingest on the service's host"): the operator asks the
 * service to read disks mounted on its own host, under the folder its administrator named with
 * `ferry serve --ingest-root`, and the service runs the datacenter's ingest itself (src/datacenter/) with
 * the job's routes called in process and the import stored directly: no upload crosses HTTP, which halves
 * the ingest's CPU and wall time (docs/PERFORMANCE.md). What it records is what it did itself: each file
 * is hashed against its content name as it is stored, exactly as an upload is.
 */
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { ImportJob as ImportJobSchema, type ImportJob } from '../../contract/import-job.js';
import type { DiskIngestRequest, DiskKeyRelease, ErrorLogEntry, FileResult, IngestProblem, IngestProgressReport, IngestStart, ServiceIngestEvent } from '../../contract/ingest.js';
import { systemClock } from '../../core/clock.js';
import { ForbiddenError, UserError } from '../../core/errors.js';
import { checkIngestable, runIngest, type IngestIO } from '../../datacenter/ingest.js';
import type { IngestService } from '../../datacenter/ingest-service.js';
import type { DiskProgress, IngestStorage } from '../../datacenter/ingest-types.js';
import type { ObjectInfo, SaveOptions, Storage } from '../../storage/storage.js';
import type { Principal } from '../auth/principal.js';
import type { ServiceContext } from '../context.js';
import type { JobRecord } from '../jobs/job-records.js';
import type { ResolvedVault } from '../vault-objects/vault-access.js';
import type { VaultObjects } from '../vault-objects/vault-objects.js';
import { checkImportKey, refuseImportWrite } from '../import-access.js';
import { openImportStorage } from './import-adoption.js';
import { finishDiskIngest, listJobErrors, receiveImportJob, recordDiskResults, releaseDiskKey, reportJobProblem, startDiskIngest } from './import-ingest.js';
import { getImportJob } from './import-jobs.js';

/** How often the counters of the disks go to the caller. */
const PROGRESS_INTERVAL_MS = 500;

/** The service was started without `--ingest-root`: it reads no disks itself. */
export class NoIngestRootError extends UserError {
  override readonly code = 'NO_INGEST_ROOT';
}

/**
 * The disks' real paths, each of them a folder under the service's ingest root (symbolic links resolved,
 * so none leads out of it). `NoIngestRootError` when the service has none, `ForbiddenError` for a disk
 * that is not under it, `UserError` for a path that does not exist or is not a folder.
 */
export async function resolveIngestDisks(ingestRoot: string | null, disks: readonly string[]): Promise<string[]> {
  if (ingestRoot === null) {
    throw new NoIngestRootError('this service reads no disks itself: its administrator starts it with --ingest-root DIR, the folder the disks are mounted under; or ingest over the network, without --on-service');
  }
  const root = await realpath(ingestRoot);
  const outside = (disk: string): ForbiddenError => new ForbiddenError(`${disk} is not under the service's ingest root ${ingestRoot}: the service reads disks only there`);
  return Promise.all(
    disks.map(async (disk) => {
      // Refused before the file system is asked about it, so no path outside the root can be probed.
      const given = resolve(disk);
      if (!within(resolve(ingestRoot), given) && !within(root, given)) throw outside(disk);
      let real: string;
      try {
        real = await realpath(given);
      } catch {
        throw new UserError(`${disk} does not exist on the service's host: mount the disk under ${ingestRoot} and give its path there`);
      }
      // A symbolic link on the way that leads out of the root.
      if (!within(root, real)) throw outside(disk);
      if (!(await stat(real)).isDirectory()) throw new UserError(`${disk} on the service's host is not a folder (a disk's mount point or copy)`);
      return real;
    }),
  );
}

/** Whether `path` is `folder` or below it (both absolute and normalized). */
function within(folder: string, path: string): boolean {
  const inside = relative(folder, path);
  return inside === '' || (inside !== '..' && !inside.startsWith(`..${sep}`) && !isAbsolute(inside));
}

/** Runs a prepared ingest, telling `emit` how it goes; `signal` interrupts it (a rerun resumes). */
export type ServiceIngestRun = (emit: (event: ServiceIngestEvent) => void, signal: AbortSignal) => Promise<void>;

/**
 * Prepares an ingest of `disks` (paths on this host) into import job `jobId` for the operator `principal`:
 * throws the typed errors of a request that cannot start (no ingest root, a disk outside it or missing, a
 * job not received yet or gone), else answers the run. The run tells `emit` the disks' counters, the
 * notes and the outcome (ServiceIngestEvent) and resolves when it ends; `signal` interrupts it: what
 * finished is recorded, and a rerun resumes.
 */
export async function prepareServiceIngest(
  ctx: ServiceContext,
  objects: VaultObjects,
  principal: Principal,
  jobId: string,
  disks: readonly string[],
): Promise<ServiceIngestRun> {
  if (principal.role !== 'operator') throw new ForbiddenError('only the datacenter operator ingests disks');
  const paths = await resolveIngestDisks(ctx.ingestRoot, disks);
  const job = await getImportJob(ctx, principal, jobId);
  checkIngestable(job);
  return async (emit, signal) => {
    const storage = await openImportStorage(ctx, job);
    let counters: readonly DiskProgress[] = [];
    const report = (): void => emit({ type: 'progress', disks: counters.map((disk) => ({ ...disk })) });
    const timer = setInterval(report, PROGRESS_INTERVAL_MS);
    const io: IngestIO = {
      note: (message) => emit({ type: 'note', message }),
      started: (progress) => {
        counters = progress;
        emit({ type: 'started', disks: progress.map((disk) => ({ ...disk })) });
      },
    };
    try {
      const result = await runIngest({
        service: new InProcessIngestService(ctx, principal),
        storage: new ImportObjects(ctx, objects, principal, jobId, storage),
        jobId,
        disks: paths,
        io,
        clock: systemClock,
        signal,
        failpoints: {
          hit: (point) => {
            ctx.failpoints.hit(point);
            // The counters go out after every file stored too, so the caller sees each one done.
            if (point === 'ingest-file-uploaded') report();
          },
        },
      });
      report();
      emit({ type: 'done', job: result.job, disks: [...result.disks], exitCode: result.exitCode });
    } finally {
      clearInterval(timer);
      await storage.close();
    }
  };
}

/** The job's import as ingest stores into it: append-only and verified, as an upload through the object routes. */
class ImportObjects implements IngestStorage {
  readonly #vault: ResolvedVault;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly objects: VaultObjects,
    private readonly principal: Principal,
    private readonly jobId: string,
    storage: Storage,
  ) {
    this.#vault = { storage, access: 'append-only' };
  }

  /** As a PUT of the object routes: the job must still take objects, and the key must be importable. */
  async save(key: string, data: Uint8Array | AsyncIterable<Uint8Array>, options: SaveOptions = {}): Promise<void> {
    checkImportKey(key);
    refuseImportWrite(await getImportJob(this.ctx, this.principal, this.jobId), this.principal.role);
    const source = data instanceof Uint8Array ? once(data) : data;
    await this.objects.upload(`import:${this.jobId}`, this.#vault, key, source, options.length !== undefined ? { length: options.length } : {});
  }

  list(prefix: string, onObject: (info: ObjectInfo) => void | Promise<void>): Promise<void> {
    return this.objects.list(this.#vault, prefix, onObject);
  }
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/** The operator's import job routes (api/import-ingest.ts), called in process with the operator's principal. */
class InProcessIngestService implements IngestService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly principal: Principal,
  ) {}

  async getJob(jobId: string): Promise<ImportJob> {
    return answered(await getImportJob(this.ctx, this.principal, jobId));
  }

  async receive(jobId: string): Promise<ImportJob> {
    return answered(await receiveImportJob(this.ctx, this.principal, jobId));
  }

  releaseDiskKey(jobId: string, index: number, diskId: string): Promise<DiskKeyRelease> {
    return releaseDiskKey(this.ctx, this.principal, jobId, index, diskId);
  }

  async startDisk(jobId: string, index: number, request: DiskIngestRequest): Promise<IngestStart> {
    const start = await startDiskIngest(this.ctx, this.principal, jobId, index, request);
    return { ...start, job: answered(start.job) };
  }

  postResults(jobId: string, index: number, results: readonly FileResult[], progress: IngestProgressReport): Promise<void> {
    return recordDiskResults(this.ctx, this.principal, jobId, index, { results: [...results], progress });
  }

  async finishDisk(jobId: string, index: number): Promise<ImportJob> {
    return answered(await finishDiskIngest(this.ctx, this.principal, jobId, index));
  }

  reportProblem(jobId: string, problem: IngestProblem): Promise<void> {
    return reportJobProblem(this.ctx, this.principal, jobId, problem);
  }

  listErrors(jobId: string): Promise<ErrorLogEntry[]> {
    return listJobErrors(this.ctx, this.principal, jobId);
  }
}

/** A job as the routes answer it: the contract's shape, without what the record keeps besides (a record is typed as either). */
function answered(record: JobRecord | ImportJob): ImportJob {
  return ImportJobSchema.parse(record);
}
