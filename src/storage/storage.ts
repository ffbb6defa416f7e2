/**
 * The storage seam: a flat namespace of immutable objects addressed by keys such as `data/ab/abcd…`.
 * It knows nothing of packs, keys or encryption. Every back end passes `testing/conformance.ts`.
 *
 * Keys are `/`-separated relative paths of segments made of `[A-Za-z0-9._-]`, none of them `.` or `..`,
 * none longer than 255 characters, at most 1024 characters in all. Any other key is refused with a
 * `PermanentError` before any I/O, and every key of that shape can be stored by every back end.
 */
export interface Storage {
  readonly properties: StorageProperties;

  /**
   * Stores `data` under `key` atomically: afterwards readers see either the previous state or the whole
   * new object, never a part of it, and after the promise resolves the object is durable.
   * Replaces an existing object with the same key, unless `options.ifAbsent` is set: then it only
   * creates, and when an object exists under `key` it stores nothing and rejects with an
   * `AlreadyExistsError`. The check and the write are one step of the store (a link(2) that refuses an
   * existing name, a conditional `If-None-Match: *` request), so of concurrent `ifAbsent` saves of one
   * key — from this process or any other sharing the store — exactly one succeeds and the others reject
   * with `AlreadyExistsError`. A retried request may find the object its own first attempt created and
   * reject likewise: callers that must tell the two apart compare the stored bytes with theirs. A back end
   * may bound the size of an `ifAbsent` save (S3: one part, see S3Storage) and refuses a larger source
   * with a `PermanentError`, storing nothing.
   * When `options.length` is given and the source yields a different number of bytes, or when
   * `options.sha256` is given and the bytes hash differently, nothing is stored and the promise rejects
   * with an `IntegrityError`. A source that throws stores nothing and its error is rethrown.
   * Out of space or permission problems reject with a `PermanentError`; a storage that refuses writes
   * (read-only file system, no write permission) with its subclass `ReadOnlyStorageError`.
   * Once the promise resolves, the storage holds no reference to `data`: the caller reuses its memory
   * (backups hand saved pack buffers back to the encoder workers; ingest reuses its plaintext buffers).
   */
  save(key: string, data: Uint8Array | AsyncIterable<Uint8Array>, options?: SaveOptions): Promise<void>;

  /**
   * Starts an object whose key is known only once all of its bytes are (a pack is named by the SHA-256 of
   * its bytes, and written as it fills): `append` its bytes in order, then `commit` it under its key, or
   * `abort`. It is stored in `folder`, a top-level folder such as `data`: the key given to `commit` must
   * start with `folder/`. Until `commit` resolves nothing is visible under any key (`list` never shows an
   * object in progress), after it the object is durable, as after {@link save}; `commit` replaces an
   * existing object with the key (packs are named by their bytes, so it is the same object).
   *
   * FsStorage writes each append to a temp file in `folder` as it comes (past the page cache for aligned
   * buffers), fsyncs it at `commit`, renames it to the key's file and fsyncs that folder: the protocol of
   * {@link save}, with the same failpoints. A process killed before `commit` leaves the temp file, which
   * {@link removeInterruptedSaves} finds. Object stores and the service's HTTP storage gather the bytes in
   * memory and `save` them at `commit` (see GatheredWriter): no memory saved there, none lost.
   *
   * Errors are those of {@link save} (out of space: `PermanentError`…), from `begin`, `append` or
   * `commit`. A failed `append` or `commit` leaves nothing under any key; the temp file is removed at once
   * (or, after a crash, by {@link removeInterruptedSaves}), and the writer is unusable but for `abort`.
   */
  begin(folder: string): Promise<ObjectWriter>;

  /**
   * Reads the whole object, or `range.length` bytes from `range.offset`.
   * Rejects with `NotFoundError` when the object does not exist and with `IntegrityError` when the
   * range reaches past its end (a short object is damage, not a short read). The range is checked
   * against the object's size before anything is allocated for it: a huge range (any safe integers)
   * costs no memory, it only fails.
   */
  load(key: string, range?: ByteRange): Promise<Buffer>;

  /**
   * Reads `range.length` bytes from `range.offset` into the start of `target`, which must hold at least
   * that many (a `RangeError` before any I/O otherwise): `load` with a range, into the caller's memory, so
   * that a caller streaming many ranges can recycle its buffers instead of having one allocated per read.
   * Errors as `load` with a range; after a rejection `target`'s contents are unspecified. Back ends that
   * read into a caller's buffer natively have it (FsStorage); callers fall back to `load` without it.
   */
  loadInto?(key: string, range: ByteRange, target: Uint8Array): Promise<void>;

  /** Size of the object; `NotFoundError` when it does not exist. */
  stat(key: string): Promise<ObjectInfo>;

  /**
   * Calls `onObject` for every object whose key starts with `prefix` (a directory-like prefix such as
   * `snapshots/`, or `''` for all), in no particular order, each object once. Temporary files of
   * in-progress saves are never listed. When `onObject` throws or rejects, listing stops and the
   * promise rejects with that error. An empty or absent prefix lists nothing and is not an error.
   */
  list(prefix: string, onObject: (info: ObjectInfo) => void | Promise<void>): Promise<void>;

  /** Removes the object. Idempotent: removing an absent object resolves. */
  remove(key: string): Promise<void>;

  /** Releases connections or handles; the storage is unusable afterwards. */
  close(): Promise<void>;

  /**
   * Removes what interrupted saves (a process killed mid-save) left behind in the given top-level
   * folders and below them, and returns how many leftovers it removed. Call it only while nothing saves
   * into those folders, e.g. under a repository's exclusive lock: it would remove the unfinished part of
   * a save in progress too. Back ends whose saves leave nothing behind (object stores with atomic
   * uploads) do not have it.
   */
  removeInterruptedSaves?(folders: readonly string[]): Promise<number>;
}

export interface StorageProperties {
  /** A human-readable location (a path or URL without credentials) used in messages. */
  readonly location: string;
  /** True when objects can be copied inside the back end without streaming them through the client. */
  readonly serverSideCopy: boolean;
}

export interface SaveOptions {
  /** The exact number of bytes the source must produce. */
  readonly length?: number;
  /** The SHA-256 (lowercase hex) the bytes must have. */
  readonly sha256?: string;
  /** Create only, never replace: see `Storage.save`. */
  readonly ifAbsent?: boolean;
}

export interface ByteRange {
  readonly offset: number;
  readonly length: number;
}

export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
}

/**
 * An object being written by {@link Storage.begin}. Not for concurrent use: one append at a time (wait for
 * each), then one `commit` or `abort`.
 */
export interface ObjectWriter {
  /**
   * Appends `bytes` to the object. Once the promise resolves the writer holds no reference to `bytes` (the
   * caller reuses that memory: a worker's ring of sealed blobs). Rejects as {@link Storage.save} would.
   */
  append(bytes: Uint8Array): Promise<void>;
  /**
   * Stores the bytes appended under `key` (in the folder given to `begin`), durably and atomically. With
   * `options.length`, a different number of bytes appended is an `IntegrityError` and nothing is stored.
   */
  commit(key: string, options?: { readonly length?: number }): Promise<void>;
  /** Drops the object in progress; never throws. Harmless after a failed append or commit, and after commit. */
  abort(): Promise<void>;
}
