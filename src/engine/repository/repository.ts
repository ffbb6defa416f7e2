import { IntegrityError, NotFoundError, RepositoryMissingError, UserError, WrongPasswordError, withContext } from '../../core/errors.js';
import type { Clock } from '../../core/clock.js';
import { noFailpoints, type Failpoints } from '../../core/failpoints.js';
import { isId, shortId, type Id } from '../../core/ids.js';
import { CONFIG_KEY, folderOf, idOfKey, objectKey } from '../../storage/layout.js';
import type { Storage } from '../../storage/storage.js';
import { FileChunking } from '../chunker/file-chunking.js';
import { gearTableFromSecret } from '../chunker/gear-table.js';
import { createKeySlot, DEFAULT_KDF, openKeySlot, type KdfParams } from '../crypto/key-slot.js';
import { MasterKey } from '../crypto/master-key.js';
import { sha256Id } from '../crypto/sha256.js';
import { loadIndexFiles, type UnreadableIndexFile } from '../index/index-set.js';
import { MasterIndex } from '../index/master-index.js';
import type { BlobType } from '../pack/pack-format.js';
import { validateSnapshot, type Snapshot } from '../snapshot/snapshot.js';
import { objectExists } from '../../storage/object-exists.js';
import { BlobReader } from './blob-reader.js';
import { newConfig, validateConfig, type ConfigOptions, type RepositoryConfig } from './config.js';
import { RepositoryWriter } from './repository-writer.js';
import { openJson, sealJson } from './sealed-json.js';
import { forEachLimit } from '../../core/concurrency.js';

/** Who and where (recorded in key slots, locks and snapshots), the clock, and crash points for tests. */
export interface RepositoryContext {
  readonly clock: Clock;
  readonly hostname: string;
  readonly username: string;
  readonly failpoints?: Failpoints;
}

export interface SnapshotRecord {
  readonly id: Id;
  readonly snapshot: Snapshot;
}

/** A snapshot file that does not open (damaged, sealed with another key, malformed): its id and why. */
export interface UnreadableSnapshot {
  readonly id: Id;
  readonly error: Error;
}

/** The snapshots that open, oldest first, and those that do not, by id. */
export interface SnapshotListing {
  readonly snapshots: SnapshotRecord[];
  readonly unreadable: UnreadableSnapshot[];
}

/**
 * `findSnapshot` named a snapshot whose file does not open. The CLI words the remedy (who may remove it
 * depends on the caller's access), so the engine only carries the facts.
 */
export class UnreadableSnapshotError extends IntegrityError {
  constructor(
    readonly snapshotId: Id,
    readonly reason: Error,
  ) {
    super(`snapshot ${shortId(snapshotId)} cannot be read: ${reason.message}`, { cause: reason });
  }
}

/**
 * An open repository: its config, master key and index, on one Storage. Obtain one with
 * {@link Repository.init} or {@link Repository.open}.
 */
export class Repository {
  readonly index = new MasterIndex();
  private reader: BlobReader | undefined;

  private constructor(
    readonly storage: Storage,
    readonly config: RepositoryConfig,
    readonly key: MasterKey,
    readonly keyId: Id,
    readonly context: RepositoryContext,
  ) {}

  /**
   * Creates a repository on empty storage: config and a first key slot for `password`.
   * Refuses (UserError) when a config already exists there.
   */
  static async init(storage: Storage, password: string, context: RepositoryContext, options: ConfigOptions & { kdf?: KdfParams } = {}): Promise<Repository> {
    if (await objectExists(storage, CONFIG_KEY)) {
      throw new UserError(`a repository already exists at ${storage.properties.location}: use it, or choose an empty location`);
    }
    const key = MasterKey.generate();
    const slot = await createKeySlot(key, password, options.kdf ?? DEFAULT_KDF, {
      created: new Date(context.clock.now()),
      hostname: context.hostname,
      username: context.username,
    });
    const keyId = sha256Id(slot);
    const config = newConfig(options);
    // The key slot first: a config without a key would be a repository nobody can open.
    await storage.save(objectKey('key', keyId), slot, { length: slot.length });
    const sealed = sealJson(key.encryptionKey, 'config', config);
    await storage.save(CONFIG_KEY, sealed, { length: sealed.length });
    return new Repository(storage, config, key, keyId, context);
  }

  /**
   * Opens an existing repository with `password`. `RepositoryMissingError` when there is none,
   * `WrongPasswordError` when no key slot opens. Writes nothing.
   */
  static async open(storage: Storage, password: string, context: RepositoryContext): Promise<Repository> {
    let sealedConfig: Buffer;
    try {
      sealedConfig = await storage.load(CONFIG_KEY);
    } catch (err) {
      if (err instanceof NotFoundError) {
        throw new RepositoryMissingError(`no repository at ${storage.properties.location}: create one with \`ferry init\` or check the path`);
      }
      throw withContext(`reading the repository config at ${storage.properties.location}`, err);
    }
    const keyIds: Id[] = [];
    await storage.list(folderOf('key'), (info) => {
      const id = idOfKey('key', info.key);
      if (id) keyIds.push(id);
    });
    for (const keyId of keyIds) {
      let key: MasterKey | undefined;
      let document: unknown;
      try {
        key = await openKeySlot(await storage.load(objectKey('key', keyId)), password);
        if (!key) continue;
        document = openJson(key.encryptionKey, 'config', sealedConfig);
      } catch (err) {
        // A damaged slot, or one left by an interrupted init whose master key sealed no config:
        // it does not stop the other slots from opening the repository.
        if (err instanceof IntegrityError) continue;
        throw err;
      }
      // The password is right from here on: a config this version cannot use is its own error.
      return new Repository(storage, validateConfig(document), key, keyId, context);
    }
    throw new WrongPasswordError('wrong password: no key of this repository opens with it; check FERRY_PASSWORD or --password-file');
  }

  /** Adds a key slot for another password; returns its id. */
  async addKey(password: string, kdf: KdfParams = DEFAULT_KDF): Promise<Id> {
    const slot = await createKeySlot(this.key, password, kdf, {
      created: new Date(this.context.clock.now()),
      hostname: this.context.hostname,
      username: this.context.username,
    });
    const id = sha256Id(slot);
    await this.storage.save(objectKey('key', id), slot, { length: slot.length });
    return id;
  }

  /**
   * Loads the index files in effect into {@link index} (see index-set.ts: files another file supersedes
   * are left out, so an interrupted index rewrite reads as before or after it). A damaged file in
   * effect is an error; a damaged superseded one is ignored. Returns the ids of the files in effect.
   * For commands that rewrite the index or judge what is garbage (repair, adoption): the index keeps
   * whole blob ids (about 60 bytes a blob), and {@link MasterIndex.entries} lists them.
   */
  async loadIndex(): Promise<Id[]> {
    const { inEffect, unreadable } = await this.readIndex(true);
    const damaged = unreadable[0];
    if (damaged) throw withContext(`loading index ${shortId(damaged.id)}`, damaged.error);
    return inEffect;
  }

  /**
   * Like {@link loadIndex}, but an index file in effect that does not open is left out and returned
   * instead of failing the load: its packs are then invisible (their blobs read as "not in the index"
   * and a backup stores them again) until `repair index` rebuilds the index from the packs, which still
   * hold the data. For commands that only read or add (snapshots, ls, restore, backup, check): the index
   * is compact (about 36 bytes a blob, ids compared on 108 bits; docs/repository-format.md 9.1), and
   * {@link MasterIndex.entries} is not available. Storage errors other than a damaged file still fail.
   */
  async loadReadableIndex(): Promise<UnreadableIndexFile[]> {
    return (await this.readIndex(false)).unreadable;
  }

  /** Replaces {@link index}'s contents with the files in effect; `fullIds` for {@link loadIndex}'s callers. */
  private async readIndex(fullIds: boolean): Promise<{ inEffect: Id[]; unreadable: UnreadableIndexFile[] }> {
    this.index.clear({ fullIds });
    const { inEffect, superseded, unreadable } = await loadIndexFiles(this.storage, this.key.encryptionKey, this.index);
    // An index file removed since it was listed (a concurrent prune) is not damage.
    const damaged = unreadable.filter((file) => !superseded.has(file.id) && !(file.error instanceof NotFoundError));
    const fatal = damaged.find((file) => !(file.error instanceof IntegrityError));
    if (fatal) throw withContext(`loading index ${shortId(fatal.id)}`, fatal.error);
    return { inEffect, unreadable: damaged };
  }

  /** The chunkers of this repository by file size (their gear table is derived from the master key). */
  createChunking(): FileChunking {
    return new FileChunking(this.config.chunker, gearTableFromSecret(this.key.chunkerSecret), this.config.largeFiles);
  }

  /**
   * A writer; with `workers` > 0 compression and sealing run on that many worker threads. `guard` runs
   * before each index file is written (a backup passes its lock's check, so a backup that lost its
   * lock never indexes packs a concurrent prune may have deleted).
   */
  createWriter(options: { workers?: number; guard?: () => void; stallBeforeNextWorker?: number } = {}): RepositoryWriter {
    return new RepositoryWriter(
      this.storage,
      this.key,
      this.index,
      this.config.packSize,
      this.config.compressionLevel,
      this.context.failpoints ?? noFailpoints,
      options.workers ?? 0,
      options.guard,
      { stallBeforeNextWorker: options.stallBeforeNextWorker, clock: this.context.clock },
    );
  }

  /** Reads a blob through the index; see {@link BlobReader.load} for the errors. */
  loadBlob(type: BlobType, id: Id): Promise<Buffer> {
    return this.blobReader.load(type, id);
  }

  /** The reader behind {@link loadBlob}: blob locations and sealed bytes, for callers that decode themselves (restores). */
  get blobReader(): BlobReader {
    this.reader ??= new BlobReader(this.storage, this.index, this.key.encryptionKey);
    return this.reader;
  }

  async saveSnapshot(snapshot: Snapshot): Promise<Id> {
    const sealed = sealJson(this.key.encryptionKey, 'snapshot', snapshot);
    const id = sha256Id(sealed);
    await this.storage.save(objectKey('snapshot', id), sealed, { length: sealed.length });
    return id;
  }

  async loadSnapshot(id: Id): Promise<Snapshot> {
    try {
      return validateSnapshot(openJson(this.key.encryptionKey, 'snapshot', await this.storage.load(objectKey('snapshot', id))));
    } catch (err) {
      throw withContext(`loading snapshot ${shortId(id)}`, err);
    }
  }

  /**
   * All snapshots, oldest first; fails on the first snapshot file that does not open. For commands that
   * must see every snapshot to be safe (prune judges what no snapshot uses); the others use
   * {@link readSnapshots}.
   */
  async listSnapshots(): Promise<SnapshotRecord[]> {
    const { snapshots, unreadable } = await this.readSnapshots();
    const damaged = unreadable[0];
    if (damaged) throw withContext(`loading snapshot ${shortId(damaged.id)}`, damaged.error);
    return snapshots;
  }

  /**
   * Every snapshot file, eight at a time: those that open (oldest first, by `time` then id) and those
   * that do not, by id. A damaged file (an `IntegrityError`: altered bytes, another key, a malformed
   * document) is that file's problem and never hides the others; a file removed since the listing is
   * left out; any other storage error fails the whole read (a flaky connection is not damage).
   */
  async readSnapshots(): Promise<SnapshotListing> {
    const ids = await this.listIds('snapshot');
    const snapshots: SnapshotRecord[] = [];
    const unreadable: UnreadableSnapshot[] = [];
    await forEachLimit(ids, 8, async (id) => {
      try {
        snapshots.push({ id, snapshot: await this.loadSnapshot(id) });
      } catch (err) {
        if (err instanceof NotFoundError) return;
        if (!(err instanceof IntegrityError)) throw err;
        unreadable.push({ id, error: withoutContext(err) });
      }
    });
    snapshots.sort((a, b) => Date.parse(a.snapshot.time) - Date.parse(b.snapshot.time) || a.id.localeCompare(b.id));
    return { snapshots, unreadable: unreadable.sort((a, b) => a.id.localeCompare(b.id)) };
  }

  /**
   * Resolves `latest` (the newest snapshot that opens), a full id or a unique prefix of at least 4 hex
   * digits. Prefixes are matched against every snapshot file, readable or not, so a prefix never
   * silently picks a readable snapshot over a damaged one. `UserError` when nothing or several match,
   * {@link UnreadableSnapshotError} when the one named does not open.
   */
  async findSnapshot(ref: string, listing?: SnapshotListing): Promise<SnapshotRecord> {
    const { snapshots, unreadable } = listing ?? (await this.readSnapshots());
    if (ref === 'latest') {
      const last = snapshots[snapshots.length - 1];
      if (last) return last;
      if (unreadable.length > 0) throw new UnreadableSnapshotError(unreadable[0]!.id, unreadable[0]!.error);
      throw new UserError('the repository has no snapshots yet: run `ferry backup` first');
    }
    if (!/^[0-9a-f]{4,64}$/.test(ref)) throw new UserError(`"${ref}" is not a snapshot id: use \`ferry snapshots\` to list them`);
    const matches = [...snapshots.map((r) => r.id), ...unreadable.map((u) => u.id)].filter((id) => id.startsWith(ref));
    if (matches.length === 0) throw new UserError(`no snapshot ${ref}: use \`ferry snapshots\` to list them`);
    if (matches.length > 1) throw new UserError(`snapshot prefix ${ref} is ambiguous: give more digits`);
    const record = snapshots.find((r) => r.id === matches[0]);
    if (record) return record;
    const bad = unreadable.find((u) => u.id === matches[0])!;
    throw new UnreadableSnapshotError(bad.id, bad.error);
  }

  /**
   * The ids of the snapshot files `refs` name (full ids or unique prefixes of at least 4 hex digits),
   * without opening them: how `forget ID` reaches a snapshot whose file is damaged. `UserError` naming
   * the first ref that matches nothing or several files. Duplicates are returned once.
   */
  async resolveSnapshotIds(refs: readonly string[]): Promise<Id[]> {
    const ids = await this.listIds('snapshot');
    const found = new Set<Id>();
    for (const ref of refs) {
      if (!/^[0-9a-f]{4,64}$/.test(ref)) throw new UserError(`"${ref}" is not a snapshot id: use \`ferry snapshots\` to list them`);
      const matches = ids.filter((id) => id.startsWith(ref));
      if (matches.length === 0) throw new UserError(`no snapshot ${ref}: use \`ferry snapshots\` to list them`);
      if (matches.length > 1) throw new UserError(`snapshot prefix ${ref} is ambiguous: give more digits`);
      found.add(matches[0]!);
    }
    return [...found];
  }

  async listIds(kind: 'index' | 'snapshot' | 'pack' | 'key' | 'lock'): Promise<Id[]> {
    const ids: Id[] = [];
    await this.storage.list(folderOf(kind), (info) => {
      const id = idOfKey(kind, info.key);
      if (id && isId(id)) ids.push(id);
    });
    return ids;
  }
}


/** What is wrong with the file itself: the error {@link Repository.loadSnapshot} wrapped with "loading snapshot …". */
function withoutContext(err: Error): Error {
  return err.cause instanceof Error ? err.cause : err;
}
