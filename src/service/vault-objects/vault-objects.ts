/**
 * The vault object operations behind the HTTP routes, without HTTP: applies the access policy, verifies
 * uploads against the names they claim, keeps lock ownership, and streams to and from the vault's storage.
 */
import { createHash } from 'node:crypto';
import { AlreadyExistsError, FerryError, ForbiddenError, IntegrityError, NotFoundError } from '../../core/errors.js';
import type { ByteRange, ObjectInfo, SaveOptions, Storage } from '../../storage/storage.js';
import { PACK_TRAILER_BYTES } from '../../engine/pack/pack-format.js';
import {
  claimedSha256,
  decideObjectAccess,
  isLockKey,
  planUpload,
  type ObjectOperation,
} from './object-access-policy.js';
import { decideObjectShape, decideObjectSize, ObjectShapeError, shapeRuleFor, type ShapeRule } from './object-shape.js';
import type { LockOwnership, ObjectProvenance, ResolvedVault } from './vault-access.js';

/** What the uploader declares about its bytes; both are checked, and a mismatch stores nothing. */
export interface UploadDeclaration {
  /** The exact number of bytes (the request's Content-Length). */
  readonly length?: number;
  /** The SHA-256 the uploader computed (lowercase hex). */
  readonly sha256?: string;
  /**
   * Create only (`If-None-Match: *`): an existing object is an `AlreadyExistsError` instead of being
   * replaced. Matters only to full access; an append-only upload never replaces anything.
   */
  readonly ifAbsent?: boolean;
}

/** The outcome of an accepted upload. */
export interface UploadResult {
  /** False when an append-only caller re-sent the bytes an existing object already has (nothing written). */
  readonly stored: boolean;
  readonly size: number;
}

export interface VaultObjectsOptions {
  readonly lockOwnership: LockOwnership;
  /** Called with the size of every object stored (not for no-op re-sends). */
  readonly onBytesStored?: (bytes: number) => void;
  /** Told of every object stored or removed by a resolved writer (vaults: snapshot provenance); none when absent. */
  readonly provenance?: ObjectProvenance;
  /**
   * Whether what an append-only caller adds must be shaped like a repository object (object-shape.ts);
   * on for vaults. Full access is never judged.
   */
  readonly checkShapes?: boolean;
}

/**
 * One instance serves every vault of the process. Every method first asks the access policy and throws a
 * `ForbiddenError` with its reason when refused; storage errors pass through typed (NotFoundError,
 * IntegrityError, PermanentError).
 */
export class VaultObjects {
  readonly #lockOwnership: LockOwnership;
  readonly #onBytesStored: (bytes: number) => void;
  readonly #provenance: ObjectProvenance | undefined;
  readonly #checkShapes: boolean;

  constructor(options: VaultObjectsOptions) {
    this.#lockOwnership = options.lockOwnership;
    this.#onBytesStored = options.onBytesStored ?? (() => undefined);
    this.#provenance = options.provenance;
    this.#checkShapes = options.checkShapes ?? false;
  }

  /** The object's bytes, or `range` of them; a range past the end is an `IntegrityError`. */
  async load(vault: ResolvedVault, key: string, range?: ByteRange): Promise<Buffer> {
    authorize(vault, 'read', key);
    return inVault(vault.storage, () => vault.storage.load(key, range));
  }

  async stat(vault: ResolvedVault, key: string): Promise<ObjectInfo> {
    authorize(vault, 'stat', key);
    return inVault(vault.storage, () => vault.storage.stat(key));
  }

  async list(vault: ResolvedVault, prefix: string, onObject: (info: ObjectInfo) => void | Promise<void>): Promise<void> {
    authorize(vault, 'list', prefix);
    return inVault(vault.storage, () => vault.storage.list(prefix, onObject));
  }

  /**
   * Stores `source` under `key` of vault `vaultId`, or refuses. A key that names the SHA-256 of its bytes
   * (every object but `config`) is verified against it, whoever uploads: a mismatch, or a declared sha256
   * other than the name's, is an `IntegrityError` and stores nothing. A source that throws (the client went
   * away) stores nothing either. Append-only callers: see `planUpload`; a lock they create is recorded as
   * their machine's before it is saved, so a crash in between leaves only a harmless record. With
   * `checkShapes`, an append-only upload that cannot be the repository object its key names is an
   * `ObjectShapeError` (400) and stores nothing; a declared length out of bounds is refused before any
   * byte is read. An object stored is then reported to the provenance seam with the resolved writer.
   *
   * Concurrency: an append-only upload's existence check and its write are not under any lock. For a key
   * not named by its bytes' hash (`config`) the write is a create the store refuses when the object exists
   * (`SaveOptions.ifAbsent`), so of concurrent uploads — through this instance or any other on the same
   * store — exactly one stores, and each other is judged as a re-send of what it stored: accepted
   * (`stored: false`) with the same bytes, `ForbiddenError` with others. Concurrent uploads of a
   * content-named key may each store (each `stored: true`): they can only store the same verified bytes.
   */
  async upload(
    vaultId: string,
    vault: ResolvedVault,
    key: string,
    source: AsyncIterable<Uint8Array>,
    declared: UploadDeclaration = {},
  ): Promise<UploadResult> {
    const claimed = claimedSha256(key);
    if (claimed !== undefined && declared.sha256 !== undefined && declared.sha256 !== claimed) {
      throw new IntegrityError(`the upload declares sha256 ${declared.sha256}, but ${key} is named for ${claimed}`);
    }
    const sha256 = claimed ?? declared.sha256;
    const result = await this.#upload(vaultId, vault, key, source, declared, claimed, sha256);
    if (result.stored && vault.writer !== undefined) await this.#provenance?.stored(vaultId, key, vault.writer);
    return result;
  }

  async #upload(
    vaultId: string,
    vault: ResolvedVault,
    key: string,
    source: AsyncIterable<Uint8Array>,
    declared: UploadDeclaration,
    claimed: string | undefined,
    sha256: string | undefined,
  ): Promise<UploadResult> {
    if (vault.access === 'full') return this.#store(vault.storage, key, source, { length: declared.length, sha256, ifAbsent: declared.ifAbsent });
    const exists = await objectExists(vault.storage, key);
    const plan = planUpload(vault.access, key, exists, vault.machineId);
    switch (plan.action) {
      case 'refuse':
        throw new ForbiddenError(plan.reason);
      case 'verify-existing':
        return judgeResend(vault.storage, key, claimed, declared, await hashAll(source));
      case 'store': {
        const checked = (source: AsyncIterable<Uint8Array>) => (this.#checkShapes ? shapeChecked(key, source, declared.length) : source);
        // Racing creates of a content-named key can only store the bytes its name claims (the store
        // verifies them before the object becomes visible): whichever lands last, the object is the same.
        if (claimed !== undefined) return this.#storeOwned(vaultId, vault, key, checked(source), { length: declared.length, sha256 });
        // Any other key (config): the check above may be stale by the time the bytes are written, as
        // another request, through this instance or another one on the same store, may create the object
        // in between. So the write is a create the store itself refuses when the object exists
        // (SaveOptions.ifAbsent), never a replace, and the loser is judged as a re-send of the winner's.
        const witness = new WitnessedSource(source);
        try {
          return await this.#storeOwned(vaultId, vault, key, checked(witness), { length: declared.length, sha256, ifAbsent: true });
        } catch (err) {
          if (!(err instanceof AlreadyExistsError)) throw err;
          return judgeResend(vault.storage, key, claimed, declared, await witness.drain());
        } finally {
          await witness.close();
        }
      }
    }
  }

  /**
   * Removes `key`. Idempotent: removing an absent object resolves, also where the policy would refuse the
   * removal of an existing one (nothing is removed either way). Removing a lock drops its ownership record.
   */
  async remove(vaultId: string, vault: ResolvedVault, key: string): Promise<void> {
    const lock = isLockKey(key);
    const lockOwner = lock && vault.access !== 'full' ? await this.#lockOwnership.owner(vaultId, key) : undefined;
    const decision = decideObjectAccess({ access: vault.access, operation: 'remove', key, machineId: vault.machineId, lockOwner });
    if (!decision.allowed) {
      if (!(await objectExists(vault.storage, key))) return;
      throw new ForbiddenError(decision.reason);
    }
    await inVault(vault.storage, () => vault.storage.remove(key));
    if (lock) await this.#lockOwnership.forget(vaultId, key);
    await this.#provenance?.removed(vaultId, key);
  }

  async #storeOwned(vaultId: string, vault: ResolvedVault, key: string, source: AsyncIterable<Uint8Array>, options: SaveOptions): Promise<UploadResult> {
    const machineId = isLockKey(key) ? vault.machineId : undefined;
    if (machineId === undefined) return this.#store(vault.storage, key, source, options);
    await this.#lockOwnership.record(vaultId, key, machineId);
    try {
      return await this.#store(vault.storage, key, source, options);
    } catch (err) {
      // The lock was not stored, so its record must not grant anything; a failing cleanup adds nothing.
      await this.#lockOwnership.forget(vaultId, key).catch(() => undefined);
      throw err;
    }
  }

  async #store(storage: Storage, key: string, source: AsyncIterable<Uint8Array>, options: SaveOptions): Promise<UploadResult> {
    const counter = { bytes: 0 };
    await inVault(storage, () => storage.save(key, counting(source, counter), options));
    this.#onBytesStored(counter.bytes);
    return { stored: true, size: counter.bytes };
  }
}

function authorize(vault: ResolvedVault, operation: ObjectOperation, key: string): void {
  const decision = decideObjectAccess({ access: vault.access, operation, key, machineId: vault.machineId });
  if (!decision.allowed) throw new ForbiddenError(decision.reason);
}

async function objectExists(storage: Storage, key: string): Promise<boolean> {
  try {
    await inVault(storage, () => storage.stat(key));
    return true;
  } catch (err) {
    if (err instanceof NotFoundError) return false;
    throw err;
  }
}

/** The size and SHA-256 of an upload's bytes, read to the end (nothing is stored). */
async function hashAll(source: AsyncIterable<Uint8Array>): Promise<UploadDigest> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of source) {
    size += chunk.byteLength;
    hash.update(chunk);
  }
  return { size, sha256: hash.digest('hex') };
}

interface UploadDigest {
  readonly size: number;
  readonly sha256: string;
}

/**
 * An append-only re-send of an existing object, its bytes hashed: stores nothing, and accepts it only when
 * its bytes are the stored ones (the name's SHA-256, or for `config` the stored bytes' SHA-256).
 */
async function judgeResend(
  storage: Storage,
  key: string,
  claimed: string | undefined,
  declared: UploadDeclaration,
  { size, sha256: actual }: UploadDigest,
): Promise<UploadResult> {
  if (declared.length !== undefined && size !== declared.length) {
    throw new IntegrityError(`uploading ${key}: received ${size} bytes, expected ${declared.length}`);
  }
  if (declared.sha256 !== undefined && actual !== declared.sha256) {
    throw new IntegrityError(`uploading ${key}: the bytes have sha256 ${actual}, expected ${declared.sha256}`);
  }
  const expected = claimed ?? createHash('sha256').update(await inVault(storage, () => storage.load(key))).digest('hex');
  if (actual === expected) return { stored: false, size };
  if (claimed !== undefined) {
    throw new IntegrityError(`uploading ${key}: the bytes have sha256 ${actual}, but the name claims ${claimed}`);
  }
  throw new ForbiddenError(
    `${key} exists with other bytes; agents are append-only and may not overwrite it; a tenant-admin may`,
  );
}

/**
 * An upload's source as the storage reads it, hashed on the way: when the storage stops reading early (it
 * refused the create), `drain` reads and hashes the rest, so the whole upload can still be judged. The
 * storage ending its iteration does not end the source; `close` does, unless it was read to the end.
 */
class WitnessedSource implements AsyncIterable<Uint8Array> {
  readonly #iterator: AsyncIterator<Uint8Array>;
  readonly #hash = createHash('sha256');
  #size = 0;
  #done = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#iterator = source[Symbol.asyncIterator]();
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return { next: () => this.#next(), return: async () => ({ done: true, value: undefined }) };
  }

  /** Reads what the storage left unread; the size and SHA-256 of the whole upload. */
  async drain(): Promise<UploadDigest> {
    while (!this.#done) await this.#next();
    return { size: this.#size, sha256: this.#hash.digest('hex') };
  }

  /** Ends the source when it was not read to the end (the client's body is not read further). */
  async close(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.#iterator.return?.();
  }

  async #next(): Promise<IteratorResult<Uint8Array>> {
    if (this.#done) return { done: true, value: undefined };
    const result = await this.#iterator.next();
    if (result.done === true) this.#done = true;
    else {
      this.#size += result.value.byteLength;
      this.#hash.update(result.value);
    }
    return result;
  }
}

/**
 * Runs a storage call, rewording its typed errors so that they do not show clients where the service keeps
 * the vault (a server path, an account URL): the location becomes "the vault". Class and cause are kept.
 */
async function inVault<T>(storage: Storage, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    const location = storage.properties.location;
    if (!(err instanceof FerryError) || location === '' || !err.message.includes(location)) throw err;
    const Ctor = err.constructor as new (message: string, options?: { cause?: unknown }) => FerryError;
    throw new Ctor(err.message.split(location).join('the vault'), { cause: err });
  }
}

/**
 * Passes `source` through while gathering what object-shape.ts needs (size, and the whole object or its
 * trailer where the kind's rule reads them); throws `ObjectShapeError` as soon as the size passes the kind's
 * maximum, and at the end when the shape is refused, so the storage stores nothing. A declared length out of
 * bounds is refused before the first byte is read.
 */
async function* shapeChecked(key: string, source: AsyncIterable<Uint8Array>, declaredLength: number | undefined): AsyncGenerator<Uint8Array> {
  const rule = shapeRuleFor(key);
  if (rule === undefined) {
    yield* source;
    return;
  }
  if (declaredLength !== undefined) refuseUnless(decideObjectSize(key, declaredLength));
  const seen = new ShapeWitness(rule);
  for await (const chunk of source) {
    refuseUnless(decideObjectSize(key, seen.size + chunk.byteLength, false));
    seen.add(chunk);
    yield chunk;
  }
  refuseUnless(decideObjectShape(key, seen.facts()));
}

function refuseUnless(decision: ReturnType<typeof decideObjectShape>): void {
  if (!decision.accepted) throw new ObjectShapeError(decision.reason);
}

/** Keeps, of a streamed object, only what its shape rule reads: bounded by the rule (whole small objects, a trailer). */
class ShapeWitness {
  size = 0;
  readonly #whole: Buffer[] = [];
  #trailer = Buffer.alloc(0);

  constructor(private readonly rule: ShapeRule) {}

  add(chunk: Uint8Array): void {
    this.size += chunk.byteLength;
    if (this.rule.readsWhole) this.#whole.push(Buffer.from(chunk));
    if (!this.rule.readsTrailer) return;
    const tail = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).subarray(-PACK_TRAILER_BYTES);
    this.#trailer = Buffer.concat([this.#trailer, tail]).subarray(-PACK_TRAILER_BYTES);
  }

  facts(): { size: number; bytes?: Buffer; trailer?: Buffer } {
    return {
      size: this.size,
      ...(this.rule.readsWhole ? { bytes: Buffer.concat(this.#whole) } : {}),
      ...(this.rule.readsTrailer ? { trailer: this.#trailer } : {}),
    };
  }
}

/** Passes `source` through, adding the bytes seen to `counter`. */
async function* counting(source: AsyncIterable<Uint8Array>, counter: { bytes: number }): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    counter.bytes += chunk.byteLength;
    yield chunk;
  }
}
