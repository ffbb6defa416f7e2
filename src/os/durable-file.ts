import { randomBytes } from 'node:crypto';
import { link, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { AlreadyExistsError, isErrno } from '../core/errors.js';

/**
 * The one way Ferry writes a file that must survive a crash (STYLE.md, "Durability"): a temp file in the
 * target's folder, written, fsynced, closed, renamed over the target (or hard-linked to it when it must
 * not replace one), then the folder fsynced so the new entry itself survives. On failure the temp file is
 * removed. Every writer of the project goes through here: agent state, vault credentials, the admin token,
 * the service key, the seed file, diskprep's state, disk labels and manifests, and FsStorage's objects.
 */

/**
 * The part of the file system the durable write uses. Production code uses {@link nodeFileSystem}; tests
 * inject a wrapper to record the order of the steps or to make one of them fail (fault injection).
 */
export interface DurableFileSystem {
  open(path: string, flags: string, mode?: number): Promise<FileHandle>;
  rename(from: string, to: string): Promise<void>;
  link(existing: string, created: string): Promise<void>;
  rm(path: string): Promise<void>;
}

/** The real file system. */
export const nodeFileSystem: DurableFileSystem = {
  open: (path, flags, mode) => open(path, flags, mode),
  rename: (from, to) => rename(from, to),
  link: (existing, created) => link(existing, created),
  rm: (path) => rm(path, { force: true }),
};

export interface DurableFileOptions {
  /** Permission bits of the new file (before the umask), e.g. 0o600 for anything secret. */
  readonly mode: number;
  /**
   * true (the default): the new file atomically replaces any file at the path. false: it is linked into
   * place and an existing file is never replaced: `AlreadyExistsError` (its cause the EEXIST).
   */
  readonly replace?: boolean;
  /**
   * The temp file is `<folder>/<tempPrefix><random hex>`; by default `tempPrefix` is `<name>.tmp-`. Callers
   * whose readers skip temp files by a reserved prefix (FsStorage, diskprep) pass theirs.
   */
  readonly tempPrefix?: string;
  /** Fault-injection seam; {@link nodeFileSystem} by default. */
  readonly fs?: DurableFileSystem;
}

/** Hooks between the steps of {@link DurableFile.commit}, for crash tests' failpoints. */
export interface CommitHooks {
  /** After the temp file's contents are fsynced, before it is renamed or linked into place. */
  afterSync?(): void;
  /** After the file is in place, before the folder is fsynced. */
  afterPlace?(): void;
}

/**
 * A file being written durably: {@link DurableFile.create} makes the temp file (so a path that cannot be
 * written fails before any work is done), the caller writes through `handle` (streaming if it likes), then
 * `commit` makes it the file at `path`, or `abort` removes it. Not for concurrent use: one writer per
 * instance. Two instances for one path end with one of them whole at the path (replace), or one placed and
 * the other refused (no replace).
 */
export class DurableFile {
  readonly #fs: DurableFileSystem;
  readonly #replace: boolean;
  #closed = false;

  private constructor(
    /** Where `commit` puts the file; undefined for {@link DurableFile.createIn}'s (commit names it). */
    readonly path: string | undefined,
    readonly tempPath: string,
    /** The open temp file; write through it, never close it (commit and abort do). */
    readonly handle: FileHandle,
    fs: DurableFileSystem,
    replace: boolean,
  ) {
    this.#fs = fs;
    this.#replace = replace;
  }

  /** Creates the temp file next to `path` (exclusively, with `options.mode`). Errors are the file system's. */
  static async create(path: string, options: DurableFileOptions): Promise<DurableFile> {
    const fs = options.fs ?? nodeFileSystem;
    const prefix = options.tempPrefix ?? `${basename(path)}.tmp-`;
    const tempPath = join(dirname(path), `${prefix}${randomBytes(8).toString('hex')}`);
    const handle = await fs.open(tempPath, 'wx', options.mode);
    return new DurableFile(path, tempPath, handle, fs, options.replace ?? true);
  }

  /**
   * {@link create} for a file whose path is known only once it is written (a pack is named by the SHA-256
   * of its bytes): the temp file is made in `folder` and {@link commit} is given the path, which may be in
   * another folder of the same file system (a rename moves it there).
   */
  static async createIn(folder: string, options: Omit<DurableFileOptions, 'replace'>): Promise<DurableFile> {
    const fs = options.fs ?? nodeFileSystem;
    const tempPath = join(folder, `${options.tempPrefix ?? '.tmp-'}${randomBytes(8).toString('hex')}`);
    const handle = await fs.open(tempPath, 'wx', options.mode);
    return new DurableFile(undefined, tempPath, handle, fs, true);
  }

  /**
   * Takes over a temp file the caller made by other means (a reflink or kernel copy, `copyFile`) next to
   * `path`, to commit or abort it like one from {@link DurableFile.create}. Errors are the file system's.
   */
  static async adopt(path: string, tempPath: string, options: Pick<DurableFileOptions, 'replace' | 'fs'> = {}): Promise<DurableFile> {
    const fs = options.fs ?? nodeFileSystem;
    const handle = await fs.open(tempPath, 'r+');
    return new DurableFile(path, tempPath, handle, fs, options.replace ?? true);
  }

  /**
   * fsyncs and closes the temp file, renames it over `path` (or links it there and removes the temp name),
   * then fsyncs the folder. Once it resolves the file survives a crash. If it fails before the file is in
   * place, the temp file is removed and `path` is untouched; `AlreadyExistsError` when `replace` is false
   * and `path` exists. A failure of the final folder fsync is thrown as is (the file is in place but may
   * not survive a crash). `to` is the path for a file from {@link createIn} (and must be given then); the
   * folder fsynced is `to`'s.
   */
  async commit(hooks: CommitHooks = {}, to: string | undefined = this.path): Promise<void> {
    if (to === undefined) throw new TypeError('commit of a DurableFile made by createIn needs the path');
    try {
      await this.handle.sync();
      hooks.afterSync?.();
      this.#closed = true;
      await this.handle.close();
      if (this.#replace) {
        await this.#fs.rename(this.tempPath, to);
      } else {
        try {
          await this.#fs.link(this.tempPath, to);
        } catch (err) {
          if (isErrno(err, 'EEXIST')) throw new AlreadyExistsError(`${to} already exists`, { cause: err });
          throw err;
        }
        await this.#fs.rm(this.tempPath);
      }
      hooks.afterPlace?.();
    } catch (err) {
      await this.abort();
      throw err;
    }
    await syncFolder(dirname(to), this.#fs);
  }

  /** Closes and removes the temp file; never throws (the failure that led here is what matters). */
  async abort(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      await this.handle.close().catch(() => undefined);
    }
    await this.#fs.rm(this.tempPath).catch(() => undefined);
  }
}

/**
 * Writes `data` to `path` durably and atomically (see {@link DurableFile}): readers see the old file (or
 * none) until it resolves, the whole new one after, also after a crash. The folder must exist. Errors are
 * the file system's, and `AlreadyExistsError` for `replace: false` on an existing file; nothing is left
 * behind on failure.
 */
export async function writeFileDurably(path: string, data: string | Uint8Array, options: DurableFileOptions): Promise<void> {
  const file = await DurableFile.create(path, options);
  try {
    await file.handle.writeFile(data);
  } catch (err) {
    await file.abort();
    throw err;
  }
  await file.commit();
}

/** fsyncs a folder so entries created, renamed or removed in it survive a crash. */
export async function syncFolder(path: string, fs: DurableFileSystem = nodeFileSystem): Promise<void> {
  const handle = await fs.open(path, 'r');
  try {
    await handle.sync();
  } catch (err) {
    // Some file systems (FAT/exFAT through certain drivers, network and FUSE mounts) cannot fsync a
    // folder; the file's data is synced anyway.
    if (!isErrno(err, 'EINVAL') && !isErrno(err, 'ENOTSUP') && !isErrno(err, 'EPERM')) throw err;
  } finally {
    await handle.close();
  }
}
