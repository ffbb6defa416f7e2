/**
 * The ingest of one identified disk (docs/datacenter.md): fetch its key, authenticate its manifest,
 * start it at the service (which answers what earlier runs did), then read, decrypt, verify and upload
 * every file not done yet, several at once, posting results and progress in batches; log files the
 * manifest does not list; finish. Resumable: results are recorded as files finish, a rerun skips them.
 */
import { AuthenticationError, ForbiddenError, IntegrityError, InterruptedError, NotFoundError, PermanentError } from '../core/errors.js';
import { deriveDiskSubkeys, DISK_KEY_BYTES, diskFileName } from '../seed/disk-format.js';
import { FINAL_DISK_STATES, type DiskState } from '../contract/job-states.js';
import { listDiskFiles } from '../seed/disk-verifier.js';
import { openManifest, type DiskManifest, type ManifestEntry } from '../seed/manifest.js';
import { mapOrdered } from '../seed/ordered-map.js';
import { corrupted, type IdentifiedDisk, type RefusedDisk } from './disk-identity.js';
import { importKeyProblem } from './import-key.js';
import type { FileResult } from '../contract/ingest.js';
import { serviceCode } from './ingest-service.js';
import type { DiskOutcome, DiskProgress, IngestContext } from './ingest-types.js';
import { ResultReporter } from './result-reporter.js';

/**
 * A file is read whole into memory before it is uploaded; repository files are packs of about 16 MiB
 * (the service takes objects up to 64 MiB), so a larger one is refused rather than risking the memory.
 */
const MAX_FILE_BYTES = 1024 * 1024 * 1024;

/** Files the manifest does not list are logged one by one up to this many, then counted in one entry. */
const MAX_UNEXPECTED_LOGGED = 100;

/** What became of one file: its result, the bytes uploaded, and whether a rerun may fix a failure. */
interface EntryOutcome {
  readonly result: FileResult;
  readonly uploaded: number;
  readonly retryable: boolean;
}

/**
 * Ingests one disk; answers how it ended. A refusal is logged to the job (unless the service logged it
 * itself). Throws InterruptedError when `ctx.signal` aborts (results so far are sent first), and the
 * service's errors that concern the whole job (wrong state, bad token).
 */
export async function ingestDisk(ctx: IngestContext, disk: IdentifiedDisk, progress: DiskProgress): Promise<DiskOutcome> {
  const index = disk.label.index;
  const diskId = disk.label.diskId;
  const name = `disk ${index + 1}`;
  progress.number = index + 1;

  let release;
  try {
    release = await ctx.service.releaseDiskKey(ctx.jobId, index, diskId);
  } catch (err) {
    // The service logs DiskIdMismatch itself.
    if (serviceCode(err) === 'DISK_ID_MISMATCH') return refusedOutcome(disk.given, index, diskId, `${name} at ${disk.given}: ${(err as Error).message}`);
    throw err;
  }
  const key = Buffer.from(release.diskKey, 'base64');
  if (release.diskId !== diskId || key.length !== DISK_KEY_BYTES) {
    return refuse(ctx, corrupted(disk.given, index, `the service holds no usable key for ${name} (id ${diskId}) at ${disk.given}`));
  }
  const keys = deriveDiskSubkeys(key, diskId);
  let manifest: DiskManifest;
  try {
    manifest = openManifest(keys.manifestKey, disk.manifestBytes, diskId);
  } catch (err) {
    if (!(err instanceof IntegrityError)) throw err;
    return refuse(ctx, corrupted(disk.given, index, `the manifest of ${name} at ${disk.given} fails: ${err.message}`));
  }
  if (manifest.job.id !== ctx.jobId || manifest.index !== index) {
    return refuse(ctx, corrupted(disk.given, index, `the manifest of ${name} at ${disk.given} names job ${manifest.job.id} disk ${manifest.index + 1}, unlike its label`));
  }

  let start;
  try {
    start = await ctx.service.startDisk(ctx.jobId, index, { diskId, manifestSha256: disk.manifestSha256 });
  } catch (err) {
    // The service logs these itself (DiskIdMismatch, ManifestCorrupted).
    const code = serviceCode(err);
    if (code === 'DISK_ID_MISMATCH' || code === 'MANIFEST_MISMATCH') return refusedOutcome(disk.given, index, diskId, `${name} at ${disk.given}: ${(err as Error).message}`);
    throw err;
  }
  ctx.onJob?.(start.job);
  const record = start.job.disks.find((d) => d.index === index);
  if (start.finished) {
    progress.phase = 'done';
    const state = record?.state ?? 'Failed';
    return { ...emptyOutcome(disk.given, index, diskId), state, alreadyFinal: true, message: `${name} was already ingested (${state}; job ${start.job.state}): nothing to do` };
  }

  const done = new Set(start.done.map((d) => d.path));
  const todo = manifest.files.filter((entry) => !done.has(entry.path));
  progress.totalFiles = manifest.files.length;
  progress.totalBytes = sum(manifest.files);
  progress.filesBefore = progress.filesDone = manifest.files.length - todo.length;
  progress.bytesBefore = progress.bytesDone = progress.totalBytes - sum(todo);
  progress.startedAt = ctx.clock.now();
  progress.phase = 'ingesting';

  const reporter = new ResultReporter(ctx.service, ctx.jobId, index, () => ({ bytesDone: progress.bytesDone, filesDone: progress.filesDone }), ctx.progressIntervalMs);
  let filesOk = 0;
  const retryable: FileResult[] = [];
  try {
    const imported = todo.length > 0 ? await ctx.imported() : new Map<string, number>();
    const work = (entry: ManifestEntry): Promise<EntryOutcome> => ingestEntry(ctx, disk.root, diskId, keys.fileKey, manifest.segmentSize, entry, imported);
    for await (const outcome of mapOrdered(listed(todo), ctx.window, work)) {
      // A file that finished is recorded even when an interrupt came meanwhile: the rerun skips it.
      await reporter.add(outcome.result);
      progress.filesDone++;
      progress.bytesDone += outcome.result.size;
      progress.bytesUploaded += outcome.uploaded;
      if (outcome.result.code === 'Ok') filesOk++;
      else progress.filesFailed++;
      if (outcome.retryable) retryable.push(outcome.result);
      if (ctx.signal?.aborted) throw new InterruptedError(`the ingest of ${name} was interrupted`);
    }
    await reporter.close();
  } catch (err) {
    reporter.stop();
    // What finished is recorded, so the rerun skips it; the first error is the one to show.
    await reporter.flush().catch(() => undefined);
    if (err instanceof InterruptedError || err instanceof AuthenticationError || err instanceof ForbiddenError) throw err;
    progress.phase = 'done';
    const elsewhere = await finishedElsewhere(ctx, index, err);
    if (elsewhere !== undefined) return { ...emptyOutcome(disk.given, index, diskId), filesOk, filesFailed: progress.filesFailed, filesBefore: progress.filesBefore, bytesUploaded: progress.bytesUploaded, state: elsewhere, message: `${name}: ${elsewhere} (finished by another ingest of this disk)` };
    return { ...emptyOutcome(disk.given, index, diskId), state: 'Stopped', filesOk, filesFailed: progress.filesFailed, filesBefore: progress.filesBefore, bytesUploaded: progress.bytesUploaded, message: `the ingest of ${name} stopped: ${(err as Error).message}; run the same command again to resume` };
  }
  const counts = { filesOk, filesFailed: progress.filesFailed, filesBefore: progress.filesBefore, bytesUploaded: progress.bytesUploaded };
  if (retryable.length > 0) {
    progress.phase = 'done';
    const first = retryable[0]!;
    return {
      ...emptyOutcome(disk.given, index, diskId),
      ...counts,
      state: 'Stopped',
      message: `${name}: ${retryable.length} upload${retryable.length === 1 ? '' : 's'} failed (first: ${first.message}); the disk is not finished: run the same command again to retry ${retryable.length === 1 ? 'it' : 'them'}`,
    };
  }

  progress.phase = 'finishing';
  try {
    await logUnexpectedFiles(ctx, disk, manifest);
    const job = await ctx.service.finishDisk(ctx.jobId, index);
    ctx.onJob?.(job);
    progress.phase = 'done';
    const state = job.disks.find((d) => d.index === index)?.state ?? 'Failed';
    return { ...emptyOutcome(disk.given, index, diskId), ...counts, state, message: `${name}: ${state}` };
  } catch (err) {
    progress.phase = 'done';
    const elsewhere = await finishedElsewhere(ctx, index, err);
    if (elsewhere === undefined) throw err;
    return { ...emptyOutcome(disk.given, index, diskId), ...counts, state: elsewhere, message: `${name}: ${elsewhere} (finished by another ingest of this disk)` };
  }
}

/**
 * When `err` is the service's refusal because the disk is no longer Transferring and the disk is now
 * final (another command ingesting the same disk finished it first), its state; undefined otherwise.
 */
async function finishedElsewhere(ctx: IngestContext, index: number, err: unknown): Promise<DiskState | undefined> {
  if (serviceCode(err) !== 'ILLEGAL_TRANSITION') return undefined;
  const job = await ctx.service.getJob(ctx.jobId);
  ctx.onJob?.(job);
  const state = job.disks.find((d) => d.index === index)?.state;
  return state !== undefined && FINAL_DISK_STATES.includes(state) ? state : undefined;
}

/**
 * One file: skipped when the import already has it (an earlier run uploaded it but was stopped before
 * recording it), else read, decrypted and verified on the pool and uploaded. Throws only what stops the
 * whole disk: the token refused, the job gone, a broken worker.
 */
async function ingestEntry(
  ctx: IngestContext,
  root: string,
  diskId: string,
  fileKey: Buffer,
  segmentSize: number,
  entry: ManifestEntry,
  imported: ReadonlyMap<string, number>,
): Promise<EntryOutcome> {
  const failed = (code: FileResult['code'], message: string, retry = false): EntryOutcome => ({ result: { path: entry.path, size: entry.size, sha256: null, code, message }, uploaded: 0, retryable: retry });
  const ok = (uploaded: number): EntryOutcome => ({ result: { path: entry.path, size: entry.size, sha256: entry.sha256, code: 'Ok', message: null }, uploaded, retryable: false });
  const refused = importKeyProblem(entry.path, entry.sha256);
  if (refused !== undefined) return failed('PathRefused', refused);
  if (entry.size > MAX_FILE_BYTES) return failed('UploadFailed', `${entry.path} has ${entry.size} bytes, more than ingest takes (${MAX_FILE_BYTES}): not a repository file`);
  // The service stored it only after checking its bytes against the name, which is the manifest's SHA-256.
  if (imported.get(entry.path) === entry.size) return ok(0);
  const giveBack = await ctx.budget.take(entry.size);
  try {
    if (ctx.signal?.aborted) throw new InterruptedError('ingest interrupted');
    const opened = await ctx.pool.open({ disk: root, diskId, fileKey, segmentSize, entry, readBytes: ctx.readBytes });
    if (!opened.ok) return failed(opened.code, opened.message);
    try {
      // The file's SHA-256 check is the service's: it hashes the bytes against the content name (the
      // manifest's SHA-256, import-key.ts) before it stores them and refuses others with an
      // IntegrityError (disk-file-opener.ts says why ingest does not hash them too).
      await ctx.storage.save(entry.path, opened.plaintext, { length: entry.size });
    } catch (err) {
      if (err instanceof AuthenticationError || err instanceof ForbiddenError || err instanceof NotFoundError) throw err;
      if (err instanceof IntegrityError) {
        // The bytes authenticated under the disk key, so only a holder of that key made them.
        return failed('ChecksumMismatch', `${entry.path}: the service refused the bytes, their SHA-256 is not the manifest's: ${err.message}`);
      }
      return failed('UploadFailed', `${entry.path}: the upload failed: ${(err as Error).message}`, !(err instanceof PermanentError));
    }
    // Only after a save that finished: a failed one may leave its body queued on a socket for a while.
    ctx.pool.recycle(opened.plaintext);
    ctx.failpoints.hit('ingest-file-uploaded');
    return ok(entry.size);
  } finally {
    giveBack();
  }
}

/** Logs (route 6) every name under files/ that the manifest does not list: never uploaded. */
async function logUnexpectedFiles(ctx: IngestContext, disk: IdentifiedDisk, manifest: DiskManifest): Promise<void> {
  const listedNames = new Set(manifest.files.map((entry) => diskFileName(entry.n)));
  const extra = (await listDiskFiles(disk.root)).filter((name) => !listedNames.has(name));
  const index = disk.label.index;
  for (const name of extra.slice(0, MAX_UNEXPECTED_LOGGED)) {
    await ctx.service.reportProblem(ctx.jobId, { diskIndex: index, path: name, code: 'UnexpectedFile', message: `${name} on disk ${index + 1} is not in its manifest: not uploaded` });
  }
  if (extra.length > MAX_UNEXPECTED_LOGGED) {
    const more = extra.length - MAX_UNEXPECTED_LOGGED;
    await ctx.service.reportProblem(ctx.jobId, { diskIndex: index, path: null, code: 'UnexpectedFile', message: `${more} more files under files/ on disk ${index + 1} are not in its manifest: not uploaded` });
  }
  if (extra.length > 0) ctx.note(`disk ${index + 1}: ${extra.length} file${extra.length === 1 ? '' : 's'} under files/ not in the manifest, logged and not uploaded`);
}

/** Logs a refusal to the job's error log (route 6) and answers the disk's outcome. */
export async function refuse(ctx: IngestContext, refused: RefusedDisk): Promise<DiskOutcome> {
  if (refused.problem !== undefined) await ctx.service.reportProblem(ctx.jobId, refused.problem);
  return refusedOutcome(refused.given, refused.index, null, refused.message);
}

function refusedOutcome(given: string, index: number | null, diskId: string | null, message: string): DiskOutcome {
  return { ...emptyOutcome(given, index, diskId), state: 'Refused', message };
}

function emptyOutcome(given: string, index: number | null, diskId: string | null): Omit<DiskOutcome, 'state' | 'message'> {
  return { given, index, diskId, filesOk: 0, filesFailed: 0, filesBefore: 0, bytesUploaded: 0, alreadyFinal: false };
}

function sum(entries: readonly ManifestEntry[]): number {
  return entries.reduce((total, entry) => total + entry.size, 0);
}

async function* listed<T>(items: readonly T[]): AsyncGenerator<T> {
  yield* items;
}
