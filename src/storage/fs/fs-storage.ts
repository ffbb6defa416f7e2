import { BufferPool } from '../../core/buffer-pool.js';
import { mkdir, readdir, readFile, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { FerryError, IntegrityError, NotFoundError, PermanentError, ReadOnlyStorageError, isErrno } from '../../core/errors.js';
import { noFailpoints, type Failpoints } from '../../core/failpoints.js';
import { DurableFile, syncFolder } from '../../os/durable-file.js';
import { allocateAligned, writeAt, WriteHash } from '../../os/direct-write.js';
import { DirectReadFile, fitsDirectRead } from '../../os/direct-read.js';
import { ReadHandleCache } from './read-handle-cache.js';
import { RESERVED_SEGMENT_PREFIX, assertTargetHolds, assertValidKey, assertValidPrefix, assertValidRange, isValidKey } from '../object-key.js';
import { assertKeyInFolder } from '../gathered-writer.js';
import type { ByteRange, ObjectInfo, ObjectWriter, SaveOptions, Storage, StorageProperties } from '../storage.js';
import { readCached } from '../../os/cached-read.js';

/** Names of in-progress saves start with this; they are never listed and never valid keys (object-key.ts). */
export const TEMP_PREFIX = RESERVED_SEGMENT_PREFIX;
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
/** Files kept open for ranged reads (restores read many blobs of a few packs). */
const READ_HANDLES = 32;
/** Ranges up to this size are first copied from the page cache on the calling thread (os/cached-read.ts). */
const CACHED_READ_MAX = 1024 * 1024;

/** Chunks smaller than this are gathered into writes of this size. */
const WRITE_BATCH_BYTES = 1024 * 1024;
/** Batch buffers kept for the next saves (a service receives several uploads at once), so a save allocates none. */
const writeBatches = new BufferPool(8 * WRITE_BATCH_BYTES, allocateAligned);

/**
 * A Storage in a local directory: the key `data/ab/abcd…` is the file `<root>/data/ab/abcd…`.
 *
 * - The constructor does not touch the disk; the first save creates `root` and any folders it needs.
 * - save writes `.tmp-<random hex>` next to the target, fsyncs it, renames it over the target and fsyncs
 *   the folder (and the parents of folders it created), so after it resolves the object is durable.
 *   On any failure the temp file is removed. Concurrent saves of one key leave one whole object.
 *   With `ifAbsent` the durable temp file is hard-linked to the target instead (link(2) refuses an existing
 *   name: `AlreadyExistsError`, the temp file removed), so exactly one of concurrent creates wins, also
 *   between processes sharing the folder (a network file system must honour link(2), as NFS does).
 * - begin (an object named at its end, see Storage.begin) makes `.tmp-<random hex>` in the folder it is
 *   given (`data`), writes each append at its place as it comes (past the page cache when the buffer and
 *   the position are block-aligned, see os/direct-write.ts), and at commit takes the same steps as save:
 *   fsync, rename to the key's file (`data/ab/ab…`, its folder made durably first), fsync of that folder,
 *   with the same failpoints. A failed append or commit removes the temp file; a crash leaves it to
 *   removeInterruptedSaves, which sweeps the folder and the folders below it.
 * - Keys with a segment starting with `.tmp-` are invalid for every back end (object-key.ts): such files
 *   would be hidden from list.
 * - remove unlinks without fsyncing the folder: a removal may be undone by a crash, never half done.
 * - Errno codes are translated here: ENOENT → `NotFoundError` (load, stat), out of space, quota,
 *   permission, read-only and a file or folder in the way → `PermanentError` (a save or remove refused
 *   by a read-only file system or missing write permission → its subclass `ReadOnlyStorageError`);
 *   others get context.
 *
 * Keeps a few files open for ranged reads (see ReadHandleCache); `close` closes them.
 */
export class FsStorage implements Storage {
  readonly properties: StorageProperties;
  readonly #root: string;

  readonly #failpoints: Failpoints;
  readonly #directReads: boolean;
  readonly #readHandles = new ReadHandleCache(READ_HANDLES);

  /** `failpoints` are hit at each step of a save (`fs-written:<folder>`, `fs-synced:…`, `fs-renamed:…`). */
  /**
   * `directReads`: a `loadInto` whose offset and target start on a block boundary, with room in `target`
   * for the range rounded up to whole blocks, reads past the page cache (os/direct-read.ts) and may write
   * those extra bytes of `target` too. For a reader that reads each byte once and keeps nothing
   * (diskprep's copy of staging): the bytes land in its memory without the kernel's copy and without
   * filling the page cache with a file nobody reads again.
   */
  constructor(root: string, options: { failpoints?: Failpoints; directReads?: boolean } = {}) {
    this.#root = resolve(root);
    this.#failpoints = options.failpoints ?? noFailpoints;
    this.#directReads = options.directReads ?? false;
    this.properties = { location: this.#root, serverSideCopy: false };
  }

  async save(key: string, data: Uint8Array | AsyncIterable<Uint8Array>, options: SaveOptions = {}): Promise<void> {
    const target = this.#pathOf(key);
    const folder = dirname(target);
    await this.#io('save', key, () => this.#makeFolder(folder));
    const file = await this.#io('save', key, () => DurableFile.create(target, { mode: FILE_MODE, tempPrefix: TEMP_PREFIX, replace: options.ifAbsent !== true }));
    const kind = key.split('/')[0];
    try {
      await this.#writeVerified(key, file.handle, data, options);
    } catch (err) {
      await file.abort();
      throw err;
    }
    this.#failpoints.hit(`fs-written:${kind}`);
    // fsync, rename over the target (link to it for ifAbsent), fsync of the folder; on a failure before the
    // file is in place the temp file is removed.
    await this.#io('save', key, () =>
      file.commit({
        afterSync: () => this.#failpoints.hit(`fs-synced:${kind}`),
        afterPlace: () => {
          this.#readHandles.invalidate(target);
          this.#failpoints.hit(`fs-renamed:${kind}`);
        },
      }),
    );
  }

  async begin(folder: string): Promise<ObjectWriter> {
    assertValidKey(folder);
    const dir = join(this.#root, ...folder.split('/'));
    await this.#io('save', folder, () => this.#makeFolder(dir));
    const file = await this.#io('save', folder, () => DurableFile.createIn(dir, { mode: FILE_MODE, tempPrefix: TEMP_PREFIX }));
    const kind = folder.split('/')[0];
    // Its key is known only at commit: errors before then name the folder.
    const unnamed = `a new object in ${folder}/`;
    let position = 0;
    /** Set once committed, aborted or failed: the temp file is gone or in place, the writer done. */
    let done = false;
    const fail = async (err: unknown): Promise<never> => {
      done = true;
      await file.abort();
      throw err;
    };
    return {
      append: async (bytes) => {
        if (done) throw new Error(`append to an object in ${folder} already committed, aborted or failed`);
        try {
          // Each write names its position (writes past the page cache neither use nor move the file offset).
          await this.#io('save', unnamed, () => writeAt(file.handle, bytes, position));
        } catch (err) {
          return fail(err);
        }
        position += bytes.byteLength;
      },
      commit: async (key, options = {}) => {
        if (done) throw new Error(`commit of an object in ${folder} already committed, aborted or failed`);
        let target: string;
        try {
          assertKeyInFolder(key, folder);
          target = this.#pathOf(key);
          if (options.length !== undefined && options.length !== position) {
            throw new IntegrityError(`saving ${key}: ${position} bytes were appended, expected ${options.length}`);
          }
          await this.#io('save', key, () => this.#makeFolder(dirname(target)));
        } catch (err) {
          return fail(err);
        }
        done = true;
        this.#failpoints.hit(`fs-written:${kind}`);
        // As save: fsync, rename to the target, fsync of its folder; the temp file removed on a failure before the rename.
        await this.#io('save', key, () =>
          file.commit(
            {
              afterSync: () => this.#failpoints.hit(`fs-synced:${kind}`),
              afterPlace: () => {
                this.#readHandles.invalidate(target);
                this.#failpoints.hit(`fs-renamed:${kind}`);
              },
            },
            target,
          ),
        );
      },
      abort: async () => {
        if (done) return;
        done = true;
        await file.abort();
      },
    };
  }

  async load(key: string, range?: ByteRange): Promise<Buffer> {
    const path = this.#pathOf(key);
    if (range === undefined) return this.#io('load', key, () => readFile(path));
    assertValidRange(key, range);
    // The size is checked before the buffer exists: a range is often a client's number (the vault API's
    // Range header), and allocating it first let one request exhaust the process's memory.
    return this.#readRange(key, path, range, () => Buffer.allocUnsafe(range.length));
  }

  async loadInto(key: string, range: ByteRange, target: Uint8Array): Promise<void> {
    const path = this.#pathOf(key);
    assertValidRange(key, range);
    assertTargetHolds(key, range, target);
    if (this.#directReads && fitsDirectRead(target, range.offset, range.length)) {
      await this.#io('load', key, async () => {
        const file = await DirectReadFile.open(path);
        try {
          const size = await file.size();
          if (range.offset + range.length > size) throw this.#tooShort(key, size, range);
          await file.read(target, range.offset, range.length);
        } finally {
          await file.close();
        }
      });
      return;
    }
    await this.#readRange(key, path, range, () => target);
  }

  /** Reads `range` of the file into the buffer `into` gives once the range is known to exist. */
  async #readRange<B extends Uint8Array>(key: string, path: string, range: ByteRange, into: () => B): Promise<B> {
    return this.#io('load', key, () =>
      this.#readHandles.use(path, async ({ handle, size }) => {
        if (range.offset + range.length > size) throw this.#tooShort(key, size, range);
        const buffer = into();
        let done = range.length <= CACHED_READ_MAX ? readCached(handle.fd, buffer, 0, range.length, range.offset) : 0;
        while (done < range.length) {
          const { bytesRead } = await handle.read(buffer, done, range.length - done, range.offset + done);
          if (bytesRead === 0) throw this.#tooShort(key, range.offset + done, range);
          done += bytesRead;
        }
        return buffer;
      }),
    );
  }

  async stat(key: string): Promise<ObjectInfo> {
    const path = this.#pathOf(key);
    const info = await this.#io('stat', key, () => stat(path));
    if (!info.isFile()) throw new NotFoundError(`object ${key} not found in ${this.#root} (${path} is not a file)`);
    return { key, size: info.size };
  }

  async list(prefix: string, onObject: (info: ObjectInfo) => void | Promise<void>): Promise<void> {
    assertValidPrefix(prefix);
    // Walk only the deepest folder the prefix names in full; the rest of the prefix filters.
    const folder = prefix.slice(0, Math.max(prefix.lastIndexOf('/'), 0));
    await this.#walk(folder, prefix, onObject);
  }

  async remove(key: string): Promise<void> {
    const path = this.#pathOf(key);
    this.#readHandles.invalidate(path);
    try {
      await unlink(path);
    } catch (err) {
      // A folder or a file standing where a folder should be means there is no such object either.
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR') || isErrno(err, 'EISDIR')) return;
      throw translateFsError(err, 'remove', key, this.#root);
    }
  }

  async close(): Promise<void> {
    this.#readHandles.clear();
  }

  /** Deletes every `.tmp-*` file in and below `folders` (see Storage.removeInterruptedSaves for when it is safe). */
  async removeInterruptedSaves(folders: readonly string[]): Promise<number> {
    let removed = 0;
    const sweep = async (path: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(path, { withFileTypes: true });
      } catch (err) {
        if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return;
        throw translateFsError(err, 'list', '', this.#root);
      }
      for (const entry of entries) {
        const child = join(path, entry.name);
        if (entry.isFile() && entry.name.startsWith(TEMP_PREFIX)) {
          try {
            await unlink(child);
            removed++;
          } catch (err) {
            if (!isErrno(err, 'ENOENT')) throw translateFsError(err, 'remove', entry.name, this.#root);
          }
        } else if (entry.isDirectory() && isValidKey(entry.name)) {
          await sweep(child);
        }
      }
    };
    for (const folder of folders) {
      assertValidKey(folder);
      await sweep(join(this.#root, folder));
    }
    return removed;
  }

  /** Checks `key` before any I/O and maps it to its file. */
  #pathOf(key: string): string {
    assertValidKey(key);
    return join(this.#root, ...key.split('/'));
  }

  async #io<T>(action: FsAction, key: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (err) {
      throw translateFsError(err, action, key, this.#root);
    }
  }

  /** Creates `folder` and its missing parents durably (see {@link makeFolderDurably}). */
  async #makeFolder(folder: string): Promise<void> {
    await makeFolderDurably(folder);
  }

  /** Streams `data` into `handle`, failing with an `IntegrityError` on a length or sha256 mismatch. */
  async #writeVerified(
    key: string,
    handle: FileHandle,
    data: Uint8Array | AsyncIterable<Uint8Array>,
    options: SaveOptions,
  ): Promise<void> {
    // Hashing costs a pass over the bytes: only when the caller asks for verification.
    const hash = options.sha256 !== undefined ? new WriteHash() : undefined;
    let size = 0;
    // Every write names its position: large ones go past the page cache (os/direct-write.ts), which
    // neither uses nor moves the file offset.
    let position = 0;
    const writeNext = async (bytes: Uint8Array): Promise<void> => {
      await this.#io('save', key, () => writeAt(handle, bytes, position, hash));
      position += bytes.byteLength;
    };
    // Small chunks (an HTTP upload arrives in 64 KiB pieces) are gathered into one write of up to
    // WRITE_BATCH_BYTES: one trip to the thread pool instead of sixteen. They are copied, because a source
    // may reuse its buffer once it is asked for the next chunk.
    let batch: Buffer | undefined;
    let batched = 0;
    const flush = async (): Promise<void> => {
      if (batched > 0) await writeNext(batch!.subarray(0, batched));
      batched = 0;
    };
    try {
      // Errors thrown by the source pass through unchanged; only our own fs calls are translated.
      for await (const chunk of data instanceof Uint8Array ? [data] : data) {
        size += chunk.byteLength;
        if (options.length !== undefined && size > options.length) break;
        if (chunk.byteLength >= WRITE_BATCH_BYTES) {
          await flush();
          await writeNext(chunk);
          continue;
        }
        if (batched + chunk.byteLength > WRITE_BATCH_BYTES) await flush();
        batch ??= writeBatches.take(WRITE_BATCH_BYTES);
        batch.set(chunk, batched);
        batched += chunk.byteLength;
      }
      await flush();
    } finally {
      if (batch !== undefined) writeBatches.give(batch);
    }
    if (options.length !== undefined && size !== options.length) {
      const got = size > options.length ? `more than ${options.length}` : String(size);
      throw new IntegrityError(`saving ${key}: the source produced ${got} bytes, expected ${options.length}`);
    }
    const actual = hash?.digestHex();
    if (options.sha256 !== undefined && actual !== options.sha256) {
      throw new IntegrityError(`saving ${key}: the bytes have sha256 ${actual}, expected ${options.sha256}`);
    }
  }

  /** Calls `onObject` for every object file under `folder` whose key starts with `prefix`. */
  async #walk(folder: string, prefix: string, onObject: (info: ObjectInfo) => void | Promise<void>): Promise<void> {
    const path = join(this.#root, ...folder.split('/'));
    let entries;
    try {
      entries = await readdir(path, { withFileTypes: true });
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return;
      throw translateFsError(err, 'list', prefix, this.#root);
    }
    for (const entry of entries) {
      // Stray names (temp files, editor leftovers) are not objects: skipping them keeps every listed key loadable.
      if (entry.name.startsWith(TEMP_PREFIX) || !isValidKey(entry.name)) continue;
      const key = folder === '' ? entry.name : `${folder}/${entry.name}`;
      if (entry.isDirectory()) {
        if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) await this.#walk(key, prefix, onObject);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        const size = await this.#sizeOf(join(path, entry.name), prefix);
        if (size !== undefined) await onObject({ key, size });
      }
    }
  }

  /** The size of a listed file, or undefined when it was removed since the folder was read. */
  async #sizeOf(path: string, prefix: string): Promise<number | undefined> {
    try {
      return (await stat(path)).size;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw translateFsError(err, 'list', prefix, this.#root);
    }
  }

  #tooShort(key: string, size: number, range: ByteRange): IntegrityError {
    return new IntegrityError(
      `${key} in ${this.#root} has ${size} bytes, too few for the range ${range.offset}+${range.length}`,
    );
  }
}

/** Creates `folder` and its missing parents, then fsyncs the parent of each folder it created. */
export async function makeFolderDurably(folder: string): Promise<void> {
  const first = await mkdir(folder, { recursive: true, mode: DIR_MODE });
  if (first === undefined) return;
  // The new entries live in the parents, from the parent of the first new folder down to `folder`'s.
  // `folder` itself is synced by the caller after it renames into it.
  for (let dir = dirname(folder); ; dir = dirname(dir)) {
    await syncFolder(dir);
    if (dir === dirname(first) || dir === dirname(dir)) break;
  }
}

type FsAction = 'save' | 'load' | 'stat' | 'list' | 'remove';
const DOING: Record<FsAction, string> = {
  save: 'saving',
  load: 'loading',
  stat: 'checking',
  list: 'listing',
  remove: 'removing',
};

/**
 * Translates an error of a file system call made while doing `action` on `key` (a prefix for list) into
 * the typed errors of core, keeping it as `cause`. Errors already typed pass through unchanged.
 */
function translateFsError(err: unknown, action: FsAction, key: string, root: string): Error {
  if (err instanceof FerryError) return err;
  const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
  const path = typeof err === 'object' && err !== null && 'path' in err ? String(err.path) : root;
  const doing = `${DOING[action]} ${key}`;
  const options = { cause: err };
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
    case 'EISDIR':
    case 'EEXIST':
      if (action === 'load' || action === 'stat') return new NotFoundError(`object ${key} not found in ${root}`, options);
      // A folder vanishing during a save is a race a retry can win; anything else in the way is not.
      if (code === 'ENOENT') break;
      return new PermanentError(
        `a file or folder is in the way of ${path} while ${doing}: a file stands where a folder should be ` +
          `or a folder where a file should be; repair the layout under ${root}`,
        options,
      );
    case 'ENOSPC':
      return new PermanentError(`no space left on device while ${doing}: free space at ${root} and retry`, options);
    case 'EDQUOT':
      return new PermanentError(
        `disk quota exceeded while ${doing}: raise the quota or free space at ${root} and retry`,
        options,
      );
    case 'EACCES':
    case 'EPERM': {
      const message = `permission denied while ${doing} (${path}): give this user read and write access to ${root}`;
      // Denied writes are told apart: a repository that can be read but not written is still readable.
      return action === 'save' || action === 'remove' ? new ReadOnlyStorageError(message, options) : new PermanentError(message, options);
    }
    case 'EROFS':
      return new ReadOnlyStorageError(`read-only file system while ${doing}: ${root} must be writable`, options);
    case 'ENAMETOOLONG':
      return new PermanentError(`path too long while ${doing}: use a shorter repository path than ${root}`, options);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new Error(`${doing} in ${root}: ${message}`, options);
}
