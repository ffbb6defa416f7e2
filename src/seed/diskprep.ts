import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../core/clock.js';
import { FerryError, IntegrityError, isErrno, PermanentError, UserError } from '../core/errors.js';
import { noFailpoints, type Failpoints } from '../core/failpoints.js';
import type { RandomSource } from '../core/random.js';
import { sha256Id } from '../engine/crypto/sha256.js';
import type { Storage } from '../storage/storage.js';
import { availableParallelism } from 'node:os';
import { CryptoPool } from './crypto-pool.js';
import { copyToDisk } from './disk-copier.js';
import type { PlannedFile, TransferProgress } from './disk-types.js';
import {
  deriveDiskSubkeys,
  DISK_FORMAT_VERSION,
  DISK_KEY_BYTES,
  DISK_TEMP_PREFIX,
  diskFileName,
  fileNumberOf,
  MANIFEST_NAME,
  SEGMENT_SIZE,
  type DiskSubkeys,
} from './disk-format.js';
import { makeLabel, readLabel, writeLabel } from './disk-label.js';
import { describeContents, diskSpace, eraseDisk, inspectDisk, type DiskInspection } from './disk-target.js';
import { listDiskFiles, verifyDisk, verifyFiles } from './disk-verifier.js';
import {
  DiskprepStore,
  emptyState,
  filesByDisk,
  highestNumber,
  type DiskprepState,
  type DiskRecord,
  type JournalFile,
  type JournalLine,
} from './diskprep-state.js';
import { syncFolder, writeFileDurably } from '../os/durable-file.js';
import type { ImportJob } from '../contract/import-job.js';
import { ACTIVE_JOB_STATES, REPLACEABLE_DISK_STATES } from '../contract/job-states.js';
import type { JobService } from './job-service.js';
import { ManifestSize, sealManifest, type DiskManifest } from './manifest.js';
import { diskBudgets, fillDisk, SERVICE_DISKS_PER_JOB } from './placement.js';
import type { SeedFile } from './seed-file.js';
import { listStagingFiles } from './staging-files.js';

/** A temporary file that keeps the manifest's room on a disk while it is filled. */
const MANIFEST_RESERVE = `${DISK_TEMP_PREFIX}manifest-room`;


/** The work diskprep reports and the questions it asks; the CLI implements them for a terminal or a log. */
export interface DiskprepIO {
  /**
   * Whether the non-empty `disk` may be erased (`reason` says what is on it): `--yes`, or a typed
   * confirmation on a terminal. False refuses.
   */
  confirmErase(disk: DiskInspection, reason: string): Promise<boolean>;
  /** The path of another disk when the given ones are used up, or undefined to stop (not on a terminal). */
  askNextDisk(left: { readonly files: number; readonly bytes: number; readonly diskNumber: number }): Promise<string | undefined>;
  /** A line of information. */
  note(message: string): void;
  /** A phase of work on a disk starts; `progress` advances until the returned function is called. */
  phase(disk: { readonly number: number; readonly path: string }, what: 'checking' | 'copying' | 'verifying', total: { readonly files: number; readonly bytes: number }, progress: TransferProgress): () => void;
}

export interface DiskprepOptions {
  /** The staging location's repository files. */
  readonly staging: Storage;
  /** The staging location's folder (a real path): diskprep's state lives in it, and disks may not overlap it. */
  readonly stagingDir: string;
  readonly seed: SeedFile;
  readonly jobs: JobService;
  /** The disks given (--disk), in order. */
  readonly disks: readonly string[];
  readonly maxBytesPerDisk?: number;
  /**
   * Re-prepare one disk of a prepared job onto the one disk given (a lost or damaged shipment): its id,
   * or its number (1 = index 0). The same files, a new disk id and key; the service refuses the old disk.
   */
  readonly replaceDisk?: string;
  readonly io: DiskprepIO;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly signal?: AbortSignal;
  readonly pid: number;
  readonly hostname: string;
  /** Whether a process of this host is alive (stale lock detection). */
  readonly isAlive: (pid: number) => boolean;
  /** The command that resumes with another disk, shown when the disks run out. */
  readonly resumeCommand: string;
  readonly failpoints?: Failpoints;
  /** Crypto worker threads (default: one per CPU); 0 does the crypto on the calling thread. */
  readonly workers?: number;
  /** Tests only: smaller segments. */
  readonly segmentSize?: number;
}

/** A disk that is ready: verified and registered with the service. */
export interface PreparedDisk {
  readonly index: number;
  readonly diskId: string;
  readonly path: string;
  readonly files: number;
  readonly bytes: number;
}

export interface DiskprepResult {
  readonly job: ImportJob;
  readonly shippingAddress: string;
  readonly disks: readonly PreparedDisk[];
  /** True when an earlier run had already finished: nothing was done. */
  readonly alreadyPrepared: boolean;
  /** Staging files that were removed while diskprep ran, and were skipped. */
  readonly vanished: readonly string[];
}

/**
 * `ferry diskprep`: puts every staging file onto verified disks registered with the service, then marks
 * the job prepared (docs/disk-format.md, sections 8 and 9). Resumable: killed at any point, a rerun picks
 * up from the state in the staging location, verifying again what is on the disks. One run per staging
 * location at a time (a lock).
 */
export async function runDiskprep(options: DiskprepOptions): Promise<DiskprepResult> {
  const store = await DiskprepStore.open(options.stagingDir);
  await store.lock({ pid: options.pid, hostname: options.hostname, startedAt: new Date(options.clock.now()).toISOString() }, options.isAlive);
  const pool = new CryptoPool(options.workers ?? availableParallelism());
  try {
    return await new Diskprep(options, store, pool).run();
  } finally {
    await pool.close();
    await store.unlock();
  }
}

class Diskprep {
  private state: DiskprepState;
  private journal: JournalLine[] = [];
  private readonly vanished: string[] = [];
  private queue: DiskInspection[] = [];
  private job!: ImportJob;
  private readonly segmentSize: number;
  private readonly failpoints: Failpoints;

  constructor(
    private readonly o: DiskprepOptions,
    private readonly store: DiskprepStore,
    private readonly pool: CryptoPool,
  ) {
    this.state = emptyState(o.seed.jobId);
    this.segmentSize = o.segmentSize ?? SEGMENT_SIZE;
    this.failpoints = o.failpoints ?? noFailpoints;
  }

  async run(): Promise<DiskprepResult> {
    const { o } = this;
    this.state = (await this.store.readState()) ?? emptyState(o.seed.jobId);
    if (this.state.jobId !== o.seed.jobId) {
      throw new UserError(`the diskprep state in ${this.store.dir} belongs to import job ${this.state.jobId}, but ${o.seed.jobName} (${o.seed.jobId}) is this staging location's job: remove ${this.store.dir} to start over`);
    }
    this.job = await o.jobs.getJob(o.seed.jobId);
    if (o.replaceDisk !== undefined) return this.replace(o.replaceDisk);
    if (this.state.prepared) return this.summary(this.job, this.state.prepared.shippingAddress, true);
    if (this.job.preparedAt !== null && this.preparedByUs(this.job)) return this.finish();
    if (this.job.state !== 'Creating' || this.job.preparedAt !== null) {
      const why = this.job.preparedAt !== null ? 'its disks were already prepared by another run' : `it is ${this.job.state}`;
      throw new UserError(`import job ${this.job.name} takes no more disks: ${why}`);
    }
    const given = await this.inspectGiven();
    this.journal = await this.store.readJournal();
    const staging = await listStagingFiles(o.staging);
    if (this.state.disks.length === 0 && !staging.some((f) => f.path.startsWith('snapshots/'))) {
      throw new UserError('the staging location holds no snapshot yet: run the first backup to it (`ferry backup` on the agent) before diskprep');
    }
    await this.settleUnfinished(given);
    await this.queueGiven(given);

    const stagingByPath = new Map(staging.map((f) => [f.path, f]));
    const placed = this.placedPaths();
    let remaining = staging.filter((f) => !placed.has(f.path));
    this.checkEveryFileFits(remaining);
    for (;;) {
      let record = this.openRecord();
      if (!record && remaining.length === 0) break;
      let disk: DiskInspection;
      if (record) disk = this.takePresented(record);
      else ({ record, disk } = await this.startDisk(remaining));
      try {
        remaining = await this.processDisk(record, disk, remaining, stagingByPath);
      } catch (err) {
        throw diskFailure(record.index + 1, disk, err);
      }
    }

    await this.addCountToLabels();
    return this.finish();
  }

  /**
   * `--replace-disk`: copies the files of a disk that was lost or damaged on its way onto the one disk
   * given, with a new disk id and key, and registers it in the old one's place. Resumable like the rest:
   * an unfinished replacement is picked up again by the same command.
   */
  private async replace(ref: string): Promise<DiskprepResult> {
    const { o } = this;
    const prepared = this.state.prepared;
    if (!prepared) {
      throw new UserError(`the disks of import job ${this.job.name} are not all prepared yet: finish them with \`ferry diskprep\` (without --replace-disk) first`);
    }
    const target = this.state.disks.find((d) => d.diskId === ref || String(d.index + 1) === ref) ?? this.state.disks.find((d) => d.replaces === ref);
    if (!target) {
      const known = this.state.disks.map((d) => `${d.index + 1} (${d.diskId})`).join(', ');
      throw new UserError(`import job ${this.job.name} has no disk ${ref}: its disks are ${known}`);
    }
    const number = target.index + 1;
    if (target.replaces === ref) {
      o.io.note(`disk ${number} was already replaced: the new disk ${target.diskId} is ready`);
      return this.summary(this.job, prepared.shippingAddress, true);
    }
    if (!ACTIVE_JOB_STATES.includes(this.job.state)) {
      throw new UserError(`import job ${this.job.name} is ${this.job.state}: disks can be replaced only until its ingest has finished`);
    }
    const onService = this.job.disks.find((d) => d.index === target.index);
    if (onService && !REPLACEABLE_DISK_STATES.includes(onService.state)) {
      throw new UserError(`disk ${number} is being or was ingested at the datacenter (it is ${onService.state}): it cannot be replaced; files it lost are re-sent over the network after adoption`);
    }
    const given = await this.inspectGiven();
    if (given.length !== 1) throw new UserError('--replace-disk takes exactly one --disk: the new disk');
    const disk = given[0]!;
    this.journal = await this.store.readJournal();
    const files = await this.filesOfDisk(target.diskId);
    const pending = this.state.replacement;
    let record = pending && pending.replaces === target.diskId && this.isOurs(disk, pending) ? pending : undefined;
    if (!record) {
      if (disk.label?.job.id === o.seed.jobId && disk.label.diskId === target.diskId) throw new UserError(`${disk.given} is the disk being replaced: give a new disk`);
      if (disk.entries.length > 0) await this.confirmErase(disk);
      record = await this.startReplacement(target, disk, files);
    }
    try {
      const key = Buffer.from(record.key!, 'base64');
      record.path = disk.path;
      if (record.status === 'filling') {
        const placed = this.placedOn(record);
        const left = await this.fill(record, disk, deriveDiskSubkeys(key, record.diskId), files.filter((f) => !placed.has(f.path)), new Map(files.map((f) => [f.path, f])));
        if (left.length > 0) {
          // Never register a disk that lacks some of the files: the lost disk stays the registered one.
          this.state = { ...this.state, replacement: null };
          await this.save();
          throw new UserError(`the new disk ${disk.given} is too small: ${plural(left.length, 'file')} of disk ${number} do not fit on it; give a disk at least as large as the one it replaces`);
        }
      }
      if (record.status === 'sealed') await this.verify(record, disk, key);
      if (record.status === 'verified') await this.register(record, key, disk);
    } catch (err) {
      throw diskFailure(number, disk, err);
    }
    const { key: _key, ...registered } = record;
    this.state = { ...this.state, disks: this.state.disks.map((d) => (d === target ? registered : d)), replacement: null };
    await this.save();
    await this.addCountToLabels();
    return this.summary(this.job, prepared.shippingAddress, false);
  }

  /** The staging files that were on disk `diskId`, as the staging location has them now. */
  private async filesOfDisk(diskId: string): Promise<PlannedFile[]> {
    const staging = new Map((await listStagingFiles(this.o.staging)).map((f) => [f.path, f]));
    const files = [...(filesByDisk(this.journal).get(diskId)?.values() ?? [])].map((entry) => entry.path);
    const missing = files.filter((path) => !staging.has(path));
    if (missing.length > 0) {
      throw new UserError(
        `the staging location no longer holds ${plural(missing.length, 'file')} of that disk (${missing.slice(0, 3).join(', ')}): it cannot be prepared again; ` +
          'ingest the other disks, and the agent re-sends what is missing over the network after adoption',
      );
    }
    return sortByPath(files.map((path) => staging.get(path)!));
  }

  private placedOn(record: DiskRecord): Set<string> {
    return new Set([...(filesByDisk(this.journal).get(record.diskId)?.values() ?? [])].map((f) => f.path));
  }

  /** Starts the new disk (a new id and key, the old one's index) as the state's replacement, and labels it. */
  private async startReplacement(old: DiskRecord, disk: DiskInspection, files: readonly PlannedFile[]): Promise<DiskRecord> {
    this.checkEveryFileFits(files);
    if (disk.entries.length > 0) await eraseDisk(disk);
    const diskId = uuidFrom(this.o.random.bytes(16));
    const key = this.o.random.bytes(DISK_KEY_BYTES);
    const createdAt = new Date(this.o.clock.now());
    const record: DiskRecord = { index: old.index, diskId, key: key.toString('base64'), path: disk.path, status: 'filling', createdAt: createdAt.toISOString(), replaces: old.diskId };
    this.state = { ...this.state, replacement: record };
    await this.save();
    await writeLabel(disk.path, { ...makeLabel(this.job, diskId, old.index, createdAt), count: this.state.disks.length });
    this.o.io.note(`disk ${old.index + 1} is replaced: ${plural(files.length, 'file')} go onto ${disk.given} with a new disk id ${diskId}`);
    return record;
  }

  /** Marks the job prepared, then forgets the disk keys (the service holds them). */
  private async finish(): Promise<DiskprepResult> {
    const { o } = this;
    let prepared: { job: ImportJob; shippingAddress: string };
    if (this.job.preparedAt === null) {
      prepared = await o.jobs.markPrepared(o.seed.jobId, this.state.disks.length);
      this.failpoints.hit('diskprep-prepared');
    } else {
      // A run killed after the service marked the job prepared: the answer, with the address, was lost.
      prepared = { job: this.job, shippingAddress: 'the shipping address the service shows for this job (`ferry job show`)' };
    }
    this.state = {
      ...this.state,
      disks: this.state.disks.map(({ key: _key, ...rest }) => rest),
      prepared: { at: new Date(o.clock.now()).toISOString(), disks: this.state.disks.length, shippingAddress: prepared.shippingAddress },
    };
    await this.store.writeState(this.state);
    return this.summary(prepared.job, prepared.shippingAddress, false);
  }

  /** The service's disks are exactly this state's registered disks (the job was prepared by a run of ours). */
  private preparedByUs(job: ImportJob): boolean {
    const ours = this.state.disks;
    return (
      ours.length > 0 &&
      ours.length === job.disks.length &&
      ours.every((record) => record.status === 'registered' && job.disks.some((d) => d.index === record.index && d.id === record.diskId))
    );
  }

  /** Refuses up front a file that no disk could take within --max-bytes-per-disk and the service's limit. */
  private checkEveryFileFits(files: readonly PlannedFile[]): void {
    const header = this.manifestHeader('00000000-0000-4000-8000-000000000000', SERVICE_DISKS_PER_JOB - 1);
    const size = new ManifestSize(header);
    const budgets = diskBudgets({
      freeBytes: Number.MAX_SAFE_INTEGER,
      blockSize: 1,
      segmentSize: this.segmentSize,
      ...(this.o.maxBytesPerDisk !== undefined ? { maxBytes: this.o.maxBytesPerDisk } : {}),
      manifestBytes: size.bytes,
      manifestEntryBytes: (file) => size.with(file.path, file.size) - size.bytes,
      usedBytes: 0,
    });
    const tooLarge = files.find((file) => fillDisk([file], budgets).taken.length === 0);
    if (tooLarge) {
      const limit = this.o.maxBytesPerDisk !== undefined ? `--max-bytes-per-disk ${this.o.maxBytesPerDisk}` : 'the service\'s limit per disk';
      throw new UserError(`${tooLarge.path} (${tooLarge.size} bytes) does not fit on one disk within ${limit}; a file is never split across disks: allow larger disks`);
    }
  }

  /** Every given disk, checked (exists, is a folder, apart from staging, given once). */
  private async inspectGiven(): Promise<DiskInspection[]> {
    const disks: DiskInspection[] = [];
    for (const path of this.o.disks) {
      const disk = await inspectDisk(path, this.o.stagingDir);
      if (disks.some((d) => d.path === disk.path)) throw new UserError(`the disk ${path} is given twice`);
      disks.push(disk);
    }
    return disks;
  }

  /** The unfinished disk (at most one: disks are finished in order), or undefined. */
  private openRecord(): DiskRecord | undefined {
    return this.state.disks.find((d) => d.status !== 'registered');
  }

  private isOurs(disk: DiskInspection, record: DiskRecord): boolean {
    return disk.label?.job.id === this.o.seed.jobId && disk.label.diskId === record.diskId;
  }

  /** An unfinished disk that is not given is abandoned: its files go onto the next disk, which takes its index. */
  private async settleUnfinished(given: readonly DiskInspection[]): Promise<void> {
    const open = this.openRecord();
    if (!open || given.some((disk) => this.isOurs(disk, open))) return;
    this.state.disks = this.state.disks.filter((d) => d !== open);
    await this.save();
    this.o.io.note(`disk ${open.index + 1} (last seen at ${open.path}) was not finished and is not among the disks given: its files go onto the next disk`);
  }

  /** Skips given disks that are done, confirms the erasure of non-empty new ones, and queues the rest. */
  private async queueGiven(given: readonly DiskInspection[]): Promise<void> {
    for (const disk of given) {
      const record = this.state.disks.find((d) => this.isOurs(disk, d));
      if (record?.status === 'registered') {
        await this.checkRegistered(disk, record);
        this.o.io.note(`disk ${record.index + 1} (${disk.given}) is already prepared`);
        continue;
      }
      if (!record && disk.entries.length > 0) await this.confirmErase(disk);
      this.queue.push(disk);
    }
  }

  private async confirmErase(disk: DiskInspection): Promise<void> {
    const label = disk.label;
    const reason = !label
      ? `it holds ${describeContents(disk)}`
      : label.job.id === this.o.seed.jobId
        ? 'it holds an earlier, unfinished disk of this job'
        : `it is disk ${label.index + 1} of import job ${label.job.name}`;
    if (!(await this.o.io.confirmErase(disk, reason))) {
      throw new UserError(`the disk ${disk.given} is not empty (${reason}): give an empty disk, or confirm that everything on it may be deleted (--yes)`);
    }
  }

  /** A disk prepared earlier and given again: its manifest must still be the registered one. */
  private async checkRegistered(disk: DiskInspection, record: DiskRecord): Promise<void> {
    let actual: string;
    try {
      actual = sha256Id(await readFile(join(disk.path, MANIFEST_NAME)));
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      actual = 'missing';
    }
    if (actual !== record.manifestSha256) {
      throw new UserError(`disk ${record.index + 1} (${disk.given}) was changed after it was prepared (its manifest is not the registered one): do not ship it; remove ${this.store.dir} and prepare all disks again`);
    }
  }

  private takePresented(record: DiskRecord): DiskInspection {
    const at = this.queue.findIndex((disk) => this.isOurs(disk, record));
    if (at < 0) throw new Error(`bug: disk ${record.index + 1} is unfinished but not among the disks given`);
    return this.queue.splice(at, 1)[0]!;
  }

  /** The staging paths already on a disk the state knows. */
  private placedPaths(): Set<string> {
    const byDisk = filesByDisk(this.journal);
    const placed = new Set<string>();
    for (const record of this.state.disks) for (const file of byDisk.get(record.diskId)?.values() ?? []) placed.add(file.path);
    return placed;
  }

  /** Takes the next disk (given, else asked for), erases it when confirmed, and records it with a new id and key. */
  private async startDisk(remaining: readonly PlannedFile[]): Promise<{ record: DiskRecord; disk: DiskInspection }> {
    const index = this.state.disks.length;
    const left = { files: remaining.length, bytes: remaining.reduce((sum, f) => sum + f.size, 0), diskNumber: index + 1 };
    if (index >= SERVICE_DISKS_PER_JOB) {
      throw new UserError(`${plural(left.files, 'file')} (${left.bytes} bytes) are left, but an import job has at most ${SERVICE_DISKS_PER_JOB} disks: use larger disks (remove ${this.store.dir} to start over)`);
    }
    const disk = this.queue.shift() ?? (await this.askForDisk(left));
    try {
      return await this.recordDisk(disk, index);
    } catch (err) {
      throw diskFailure(index + 1, disk, err);
    }
  }

  private async recordDisk(disk: DiskInspection, index: number): Promise<{ record: DiskRecord; disk: DiskInspection }> {
    if (disk.entries.length > 0) await eraseDisk(disk);
    const diskId = uuidFrom(this.o.random.bytes(16));
    const key = this.o.random.bytes(DISK_KEY_BYTES);
    const createdAt = new Date(this.o.clock.now());
    const record: DiskRecord = { index, diskId, key: key.toString('base64'), path: disk.path, status: 'filling', createdAt: createdAt.toISOString() };
    this.state.disks.push(record);
    await this.save();
    await writeLabel(disk.path, makeLabel(this.job, diskId, index, createdAt));
    return { record, disk };
  }

  private async askForDisk(left: { files: number; bytes: number; diskNumber: number }): Promise<DiskInspection> {
    for (;;) {
      const answer = await this.o.io.askNextDisk(left);
      if (answer === undefined) {
        throw new UserError(
          `the disks given are full: ${plural(left.files, 'file')} (${left.bytes} bytes) of the staging location are not on a disk yet. ` +
            `Attach another disk and resume with: ${this.o.resumeCommand}`,
        );
      }
      try {
        const disk = await inspectDisk(answer, this.o.stagingDir);
        const known = this.state.disks.find((d) => this.isOurs(disk, d));
        if (known) throw new UserError(`${answer} is disk ${known.index + 1} of this job, already prepared: attach another disk`);
        if (disk.entries.length > 0) await this.confirmErase(disk);
        return disk;
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        this.o.io.note(err.message);
      }
    }
  }

  /** Takes a disk from its status to registered; returns the files still to place. */
  private async processDisk(record: DiskRecord, disk: DiskInspection, remaining: PlannedFile[], staging: Map<string, PlannedFile>): Promise<PlannedFile[]> {
    const key = Buffer.from(record.key!, 'base64');
    const keys = deriveDiskSubkeys(key, record.diskId);
    record.path = disk.path;
    let rest = remaining;
    if (record.status === 'filling') rest = await this.fill(record, disk, keys, remaining, staging);
    if (record.status === 'sealed') await this.verify(record, disk, key);
    if (record.status === 'verified') await this.register(record, key, disk);
    return rest;
  }

  private async fill(record: DiskRecord, disk: DiskInspection, keys: DiskSubkeys, remaining: PlannedFile[], staging: Map<string, PlannedFile>): Promise<PlannedFile[]> {
    const { o } = this;
    const number = record.index + 1;
    const usedIds = new Set(this.journal.filter((l): l is JournalFile => l.diskId === record.diskId && !('dropped' in l)).map((l) => l.fileId));
    let kept = [...(filesByDisk(this.journal).get(record.diskId)?.values() ?? [])].sort((a, b) => a.n - b.n);
    let rest = remaining;
    if (kept.length > 0) {
      // Resuming: what the journal says is on the disk is read back, not trusted.
      const progress = { bytes: 0, files: 0 };
      const done = o.io.phase({ number, path: disk.path }, 'checking', { files: kept.length, bytes: sum(kept.map((k) => k.size)) }, progress);
      const checks = await verifyFiles(disk.path, record.diskId, keys.fileKey, this.segmentSize, kept, { pool: this.pool, ...(o.signal ? { signal: o.signal } : {}), progress }).finally(done);
      const bad = new Set(checks.filter((c) => c.status !== 'ok').map((c) => c.n));
      for (const n of bad) {
        await rm(join(disk.path, diskFileName(n)), { force: true });
        await this.appendJournal({ diskId: record.diskId, n, dropped: true });
      }
      if (bad.size > 0) {
        o.io.note(`disk ${number}: ${bad.size} of ${kept.length} files written before the interruption did not verify and are copied again`);
        const again = kept.filter((k) => bad.has(k.n)).flatMap((k) => staging.get(k.path) ?? []);
        rest = sortByPath([...remaining, ...again]);
        kept = kept.filter((k) => !bad.has(k.n));
      }
    }
    await rm(join(disk.path, MANIFEST_RESERVE), { force: true });
    const onDisk = (await listDiskFiles(disk.path)).map((name) => fileNumberOf(name) ?? -1);
    const firstNumber = Math.max(highestNumber(this.journal, record.diskId), ...onDisk) + 1;

    const manifestSize = new ManifestSize(this.manifestHeader(record.diskId, record.index));
    for (const file of kept) manifestSize.add(file.path, file.size);
    const space = await diskSpace(disk.path);
    const budgets = diskBudgets({
      ...space,
      segmentSize: this.segmentSize,
      ...(o.maxBytesPerDisk !== undefined ? { maxBytes: o.maxBytesPerDisk } : {}),
      manifestBytes: manifestSize.bytes,
      manifestEntryBytes: (file) => manifestSize.with(file.path, file.size) - manifestSize.bytes,
      usedBytes: sum(kept.map((k) => k.diskBytes)),
    });
    const { taken, left } = fillDisk(rest, budgets);
    if (taken.length === 0 && kept.length === 0 && left.length > 0) {
      const room = Math.min(...budgets.map((b) => b.room));
      throw new UserError(`${left[0]!.path} (${left[0]!.size} bytes) does not fit on the empty disk ${disk.given} (room for about ${Math.max(0, room)} bytes): use larger disks or a larger --max-bytes-per-disk`);
    }
    // Holds the manifest's room: should the disk fill up sooner than its free space said, the manifest
    // still fits once this is removed, right before the manifest is written.
    for (const file of taken) manifestSize.add(file.path, file.size);
    await writeFile(join(disk.path, MANIFEST_RESERVE), Buffer.alloc(Math.ceil(manifestSize.bytes / space.blockSize) * space.blockSize));

    const progress = { bytes: 0, files: 0 };
    const done = o.io.phase({ number, path: disk.path }, 'copying', { files: taken.length, bytes: sum(taken.map((f) => f.size)) }, progress);
    const result = await copyToDisk(taken, {
      source: o.staging,
      disk: disk.path,
      diskId: record.diskId,
      fileKey: keys.fileKey,
      pool: this.pool,
      segmentSize: this.segmentSize,
      firstNumber,
      usedFileIds: usedIds,
      random: o.random,
      progress,
      failpoints: this.failpoints,
      ...(o.signal ? { signal: o.signal } : {}),
      onCopied: async (file) => {
        const { diskBytes, ...entry } = file;
        await this.appendJournal({ diskId: record.diskId, ...entry, diskBytes });
        this.failpoints.hit('diskprep-file-copied');
      },
      onVanished: (path) => {
        this.vanished.push(path);
        o.io.note(`${path} was removed from the staging location while diskprep ran (a prune?): skipped`);
      },
    }).finally(done);
    let after = left;
    if (result.full) {
      o.io.note(`disk ${number} is full sooner than its free space said: the ${result.notCopied.length} files that did not fit go onto the next disk`);
      after = sortByPath([...result.notCopied, ...left]);
    }
    const entries = [...kept, ...result.copied.map((c) => ({ ...c, diskId: record.diskId }))].sort((a, b) => a.n - b.n);
    await this.seal(record, disk, keys, entries);
    return after;
  }

  private manifestHeader(diskId: string, index: number): Omit<DiskManifest, 'files'> {
    return {
      format: 'ferry-disk-manifest',
      version: DISK_FORMAT_VERSION,
      job: { id: this.job.id, name: this.job.name },
      diskId,
      index,
      segmentSize: this.segmentSize,
      createdAt: new Date(this.o.clock.now()).toISOString(),
    };
  }

  /** Removes what is not the disk's, makes the files durable, then writes the manifest last. */
  private async seal(record: DiskRecord, disk: DiskInspection, keys: DiskSubkeys, entries: readonly JournalFile[]): Promise<void> {
    const listed = new Set(entries.map((e) => diskFileName(e.n)));
    const folders = new Set<string>();
    for (const name of await listDiskFiles(disk.path)) {
      if (listed.has(name)) folders.add(name.slice(0, name.lastIndexOf('/')));
      else await rm(join(disk.path, name), { recursive: true, force: true });
    }
    for (const name of await readdir(disk.path)) if (name.startsWith(DISK_TEMP_PREFIX)) await rm(join(disk.path, name), { force: true });
    for (const folder of folders) await syncFolder(join(disk.path, folder));
    if (folders.size > 0) await syncFolder(join(disk.path, 'files'));
    const manifest: DiskManifest = {
      ...this.manifestHeader(record.diskId, record.index),
      files: entries.map((e) => ({ n: e.n, path: e.path, size: e.size, sha256: e.sha256, fileId: e.fileId })),
    };
    const bytes = sealManifest(keys.manifestKey, manifest);
    await writeFileDurably(join(disk.path, MANIFEST_NAME), bytes, { mode: 0o644, tempPrefix: DISK_TEMP_PREFIX });
    Object.assign(record, {
      status: 'sealed',
      files: entries.length,
      bytes: sum(entries.map((e) => e.diskBytes)) + bytes.length,
      manifestSha256: sha256Id(bytes),
    } satisfies Partial<DiskRecord>);
    await this.save();
    this.failpoints.hit('diskprep-sealed');
  }

  /** Reads the whole disk back as the datacenter will, before it is reported ready. */
  private async verify(record: DiskRecord, disk: DiskInspection, key: Buffer): Promise<void> {
    const number = record.index + 1;
    const progress = { bytes: 0, files: 0 };
    const entries = [...(filesByDisk(this.journal).get(record.diskId)?.values() ?? [])];
    const done = this.o.io.phase({ number, path: disk.path }, 'verifying', { files: record.files ?? entries.length, bytes: sum(entries.map((e) => e.size)) }, progress);
    let verification;
    try {
      verification = await verifyDisk(disk.path, key, { jobId: this.o.seed.jobId, diskId: record.diskId, index: record.index, manifestSha256: record.manifestSha256! }, { pool: this.pool, ...(this.o.signal ? { signal: this.o.signal } : {}), progress });
    } catch (err) {
      if (!(err instanceof IntegrityError)) throw err;
      throw new IntegrityError(`disk ${number} (${disk.given}) failed its read-back verification: ${err.message}. Do not ship it: run the same command with another disk in its place`, { cause: err });
    } finally {
      done();
    }
    if (!verification.ok) {
      const bad = verification.files.filter((f) => f.status !== 'ok');
      const shown = bad.slice(0, 3).map((f) => `${f.path}: ${f.status}`).join('; ');
      throw new IntegrityError(
        `disk ${number} (${disk.given}) failed its read-back verification: ${bad.length} of ${verification.files.length} files are damaged (${shown}). ` +
          'The disk is probably faulty: do not ship it; run the same command with another disk in its place, and its files are copied again',
      );
    }
    record.status = 'verified';
    await this.save();
    this.failpoints.hit('diskprep-verified');
  }

  private async register(record: DiskRecord, key: Buffer, disk: DiskInspection): Promise<void> {
    const registration = {
      diskId: record.diskId,
      bytes: record.bytes!,
      files: record.files!,
      manifestSha256: record.manifestSha256!,
      diskKey: key.toString('base64'),
    };
    if (record.replaces === undefined) this.job = await this.o.jobs.putDisk(this.o.seed.jobId, record.index, registration);
    else if (!this.job.disks.some((d) => d.index === record.index && d.id === record.diskId)) {
      this.job = await this.o.jobs.replaceDisk(this.o.seed.jobId, record.index, { ...registration, replaces: record.replaces });
    }
    this.failpoints.hit('diskprep-disk-put');
    record.status = 'registered';
    await this.save();
    this.failpoints.hit('diskprep-registered');
    this.o.io.note(`disk ${record.index + 1} (${disk.given}) is ready: ${plural(record.files ?? 0, 'file')}, verified and registered with the service`);
  }

  /** Now that the number of disks is known, writes it into the label of every disk still at its path. */
  private async addCountToLabels(): Promise<void> {
    const count = this.state.disks.length;
    for (const record of this.state.disks) {
      try {
        const label = await readLabel(record.path);
        if (label?.diskId === record.diskId && label.count !== count) await writeLabel(record.path, { ...label, count });
      } catch {
        // The disk was unplugged or another one is mounted there: its label just does not say the count.
      }
    }
  }

  private async appendJournal(line: JournalLine): Promise<void> {
    await this.store.append(line);
    this.journal.push(line);
  }

  private save(): Promise<void> {
    return this.store.writeState(this.state);
  }

  private summary(job: ImportJob, shippingAddress: string, alreadyPrepared: boolean): DiskprepResult {
    const disks = this.state.disks.map((d) => ({ index: d.index, diskId: d.diskId, path: d.path, files: d.files ?? 0, bytes: d.bytes ?? 0 }));
    return { job, shippingAddress, disks, alreadyPrepared, vanished: this.vanished };
  }
}

/**
 * A system error while working on a disk (EIO, EROFS, EACCES, …) as a one-line error that names the disk
 * and what to do; Ferry's own errors pass through.
 */
function diskFailure(number: number, disk: DiskInspection, err: unknown): unknown {
  if (err instanceof FerryError || !(err instanceof Error) || typeof (err as NodeJS.ErrnoException).code !== 'string') return err;
  return new PermanentError(
    `disk ${number} (${disk.given}): ${err.message}. Check that the disk is attached and writable, then run the same command again; or give another disk in its place`,
    { cause: err },
  );
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function sortByPath<T extends { path: string }>(files: T[]): T[] {
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** A version 4 UUID from 16 random bytes. */
function uuidFrom(bytes: Buffer): string {
  const b = Buffer.from(bytes);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
