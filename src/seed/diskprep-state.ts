/**
 * Diskprep's progress in the staging location (docs/disk-format.md, section 9): `diskprep/state.json`
 * (disks, their keys and statuses), `diskprep/journal.jsonl` (one line per file written to a disk) and
 * `diskprep/lock`. The folder is 0700 and its files 0600: the state holds disk keys until the job is
 * marked prepared.
 */
import { mkdir, open, readFile, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { IntegrityError, isErrno, UserError } from '../core/errors.js';
import { isDiskId } from './disk-format.js';
import { syncFolder, writeFileDurably } from '../os/durable-file.js';

export const DISKPREP_FOLDER = 'diskprep';
const STATE_FILE = 'state.json';
const JOURNAL_FILE = 'journal.jsonl';
const LOCK_FILE = 'lock';
const TEMP_PREFIX = '.tmp-';

export const DISK_STATUSES = ['filling', 'sealed', 'verified', 'registered'] as const;
export type DiskStatus = (typeof DISK_STATUSES)[number];

const DiskRecordSchema = z.object({
  index: z.number().int().min(0),
  diskId: z.string().refine(isDiskId),
  /** base64 of the disk key; absent once the job is prepared (the service holds it). */
  key: z.string().optional(),
  /** Where the disk was last seen (disks are recognised by their label, not by this). */
  path: z.string(),
  status: z.enum(DISK_STATUSES),
  createdAt: z.string(),
  files: z.number().int().min(0).optional(),
  bytes: z.number().int().min(0).optional(),
  manifestSha256: z.string().optional(),
  /** Set on a disk made by `--replace-disk`: the id of the disk it replaces. */
  replaces: z.string().refine(isDiskId).optional(),
});

const StateSchema = z.object({
  format: z.literal('ferry-diskprep-state'),
  version: z.literal(1),
  jobId: z.string().min(1),
  disks: z.array(DiskRecordSchema),
  prepared: z.object({ at: z.string(), disks: z.number().int().min(1), shippingAddress: z.string() }).nullable(),
  /** A disk being made by `--replace-disk`; it takes the old one's place in `disks` once registered. */
  replacement: DiskRecordSchema.nullable().optional(),
});

export type DiskRecord = z.infer<typeof DiskRecordSchema>;
export type DiskprepState = z.infer<typeof StateSchema>;

const JournalLineSchema = z.union([
  z.object({
    diskId: z.string(),
    n: z.number().int().min(0),
    path: z.string(),
    size: z.number().int().min(0),
    sha256: z.string(),
    fileId: z.string(),
    diskBytes: z.number().int().min(0),
  }),
  z.object({ diskId: z.string(), n: z.number().int().min(0), dropped: z.literal(true) }),
]);

/** A journal line: a file written (and fsynced) to a disk, or a file found bad and removed again. */
export type JournalLine = z.infer<typeof JournalLineSchema>;
export type JournalFile = Exclude<JournalLine, { dropped: true }>;

export function emptyState(jobId: string): DiskprepState {
  return { format: 'ferry-diskprep-state', version: 1, jobId, disks: [], prepared: null };
}

/** Who holds the lock. */
interface LockHolder {
  readonly pid: number;
  readonly hostname: string;
  readonly startedAt: string;
}

/**
 * The state folder of one staging location. `lock` first: one diskprep at a time per staging location.
 * Not safe for concurrent use inside one process either: diskprep calls it from one async flow.
 */
export class DiskprepStore {
  private journal: FileHandle | undefined;
  private locked = false;

  private constructor(readonly dir: string) {}

  /** Opens (creating when needed) the state folder under the staging location `stagingDir`. */
  static async open(stagingDir: string): Promise<DiskprepStore> {
    const dir = join(stagingDir, DISKPREP_FOLDER);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new UserError(`diskprep keeps its progress in the staging location and cannot write there (${(err as Error).message}): run it as a user who may write to ${stagingDir}`, { cause: err });
    }
    return new DiskprepStore(dir);
  }

  /**
   * Takes the lock, or throws a `UserError` naming the holder. A lock left by a process of this host
   * that is gone is taken over.
   */
  async lock(holder: LockHolder, isAlive: (pid: number) => boolean): Promise<void> {
    const path = join(this.dir, LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(path, 'wx', 0o600);
        await handle.writeFile(JSON.stringify(holder) + '\n');
        await handle.close();
        this.locked = true;
        return;
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw err;
      }
      const other = await readLockHolder(path);
      if (other === 'torn' || (other && other.hostname === holder.hostname && !isAlive(other.pid))) {
        await rm(path, { force: true });
        continue;
      }
      if (other === undefined) continue;
      const who = other ? `process ${other.pid} on ${other.hostname}, started ${other.startedAt}` : 'an unknown process';
      throw new UserError(`another ferry diskprep (${who}) is working on this staging location; wait for it to end, or if it is gone, remove ${path}`);
    }
    throw new UserError(`cannot take the lock ${path}: another ferry diskprep keeps taking it`);
  }

  async unlock(): Promise<void> {
    await this.journal?.close();
    this.journal = undefined;
    if (this.locked) await rm(join(this.dir, LOCK_FILE), { force: true });
    this.locked = false;
  }

  async readState(): Promise<DiskprepState | undefined> {
    let text: string;
    try {
      text = await readFile(join(this.dir, STATE_FILE), 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
    try {
      return StateSchema.parse(JSON.parse(text));
    } catch (cause) {
      throw new IntegrityError(`${join(this.dir, STATE_FILE)} is damaged (${(cause as Error).message.split('\n')[0]})`, { cause });
    }
  }

  /** Replaces the state atomically and durably. */
  async writeState(state: DiskprepState): Promise<void> {
    await writeFileDurably(join(this.dir, STATE_FILE), JSON.stringify(state, null, 1) + '\n', { mode: 0o600, tempPrefix: TEMP_PREFIX });
  }

  /** Every journal line in order; a torn last line (a crash mid-append) is ignored. */
  async readJournal(): Promise<JournalLine[]> {
    let text: string;
    try {
      text = await readFile(join(this.dir, JOURNAL_FILE), 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw err;
    }
    // The part after the last newline is empty, or a line torn by a crash: either way not a line.
    const complete = text.split('\n').slice(0, -1);
    const out: JournalLine[] = [];
    for (const [i, line] of complete.entries()) {
      try {
        out.push(JournalLineSchema.parse(JSON.parse(line)));
      } catch (cause) {
        throw new IntegrityError(`${join(this.dir, JOURNAL_FILE)} line ${i + 1} is damaged`, { cause });
      }
    }
    return out;
  }

  /** Appends one line and makes it durable. */
  async append(line: JournalLine): Promise<void> {
    if (!this.journal) {
      this.journal = await open(join(this.dir, JOURNAL_FILE), 'a', 0o600);
      // The journal may have just been created: its entry in the folder must survive a crash too.
      await syncFolder(this.dir);
    }
    await this.journal.write(JSON.stringify(line) + '\n');
    await this.journal.datasync();
  }
}

/** The lock's holder; 'torn' for a lock file a crash left half written (its holder is gone); undefined if it vanished. */
async function readLockHolder(path: string): Promise<LockHolder | 'torn' | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockHolder>;
    if (typeof parsed.pid === 'number' && typeof parsed.hostname === 'string' && typeof parsed.startedAt === 'string') {
      return { pid: parsed.pid, hostname: parsed.hostname, startedAt: parsed.startedAt };
    }
  } catch {
    // not JSON: torn
  }
  return 'torn';
}

/**
 * The files on each disk according to the journal: per disk id, per file number, the last line wins
 * and a `dropped` line removes the file.
 */
export function filesByDisk(journal: readonly JournalLine[]): Map<string, Map<number, JournalFile>> {
  const disks = new Map<string, Map<number, JournalFile>>();
  for (const line of journal) {
    let files = disks.get(line.diskId);
    if (!files) disks.set(line.diskId, (files = new Map<number, JournalFile>()));
    if ('dropped' in line) files.delete(line.n);
    else files.set(line.n, line);
  }
  return disks;
}

/** The highest file number the journal mentions for a disk, or −1. */
export function highestNumber(journal: readonly JournalLine[], diskId: string): number {
  let max = -1;
  for (const line of journal) if (line.diskId === diskId && line.n > max) max = line.n;
  return max;
}
