/**
 * The vault object operations behind the HTTP routes, without HTTP: applies the access policy, verifies
 * uploads against the names they claim, keeps lock ownership, and streams to and from the vault's storage.
 */
import { createHash } from 'node:crypto';
import { FerryError, ForbiddenError, IntegrityError, NotFoundError } from '../../core/errors.js';
import type { ByteRange, ObjectInfo, Storage } from '../../storage/storage.js';
import { KeyedMutex } from './keyed-mutex.js';
import {
  claimedSha256,
  decideObjectAccess,
  isLockKey,
  planUpload,
  type ObjectOperation,
} from './object-access-policy.js';
import type { LockOwnership, ResolvedVault } from './vault-access.js';

/** What the uploader declares about its bytes; both are checked, and a mismatch stores nothing. */
export interface UploadDeclaration {
  /** The exact number of bytes (the request's Content-Length). */
  readonly length?: number;
  /** The SHA-256 the uploader computed (lowercase hex). */
  readonly sha256?: string;
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
}

/**
 * One instance serves every vault of the process. Every method first asks the access policy and throws a
 * `ForbiddenError` with its reason when refused; storage errors pass through typed (NotFoundError,
 * IntegrityError, PermanentError).
 */
export class VaultObjects {
  readonly #lockOwnership: LockOwnership;
  readonly #onBytesStored: (bytes: number) => void;
  readonly #appendOnlyWrites = new KeyedMutex();

  constructor(options: VaultObjectsOptions) {
    this.#lockOwnership = options.lockOwnership;
    this.#onBytesStored = options.onBytesStored ?? (() => undefined);
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
   * their machine's before it is saved, so a crash in between leaves only a harmless record.
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
    if (vault.access === 'full') return this.#store(vault.storage, key, source, declared.length, sha256);
    // Serialized per object so that the existence check and the write cannot interleave with another
    // append-only write of the same object in this process.
    return this.#appendOnlyWrites.run(`${vaultId}\0${key}`, async () => {
      const exists = await objectExists(vault.storage, key);
      const plan = planUpload(vault.access, key, exists, vault.machineId);
      switch (plan.action) {
        case 'refuse':
          throw new ForbiddenError(plan.reason);
        case 'verify-existing':
          return verifyResend(vault.storage, key, claimed, source, declared);
        case 'store':
          return this.#storeOwned(vaultId, vault, key, source, declared.length, sha256);
      }
    });
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
  }

  async #storeOwned(
    vaultId: string,
    vault: ResolvedVault,
    key: string,
    source: AsyncIterable<Uint8Array>,
    length: number | undefined,
    sha256: string | undefined,
  ): Promise<UploadResult> {
    const machineId = isLockKey(key) ? vault.machineId : undefined;
    if (machineId === undefined) return this.#store(vault.storage, key, source, length, sha256);
    await this.#lockOwnership.record(vaultId, key, machineId);
    try {
      return await this.#store(vault.storage, key, source, length, sha256);
    } catch (err) {
      // The lock was not stored, so its record must not grant anything; a failing cleanup adds nothing.
      await this.#lockOwnership.forget(vaultId, key).catch(() => undefined);
      throw err;
    }
  }

  async #store(
    storage: Storage,
    key: string,
    source: AsyncIterable<Uint8Array>,
    length: number | undefined,
    sha256: string | undefined,
  ): Promise<UploadResult> {
    const counter = { bytes: 0 };
    await inVault(storage, () => storage.save(key, counting(source, counter), { length, sha256 }));
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

/**
 * An append-only re-send of an existing object: reads the whole upload, stores nothing, and accepts it only
 * when its bytes are the stored ones (the name's SHA-256, or for `config` the stored bytes' SHA-256).
 */
async function verifyResend(
  storage: Storage,
  key: string,
  claimed: string | undefined,
  source: AsyncIterable<Uint8Array>,
  declared: UploadDeclaration,
): Promise<UploadResult> {
  const expected = claimed ?? createHash('sha256').update(await inVault(storage, () => storage.load(key))).digest('hex');
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of source) {
    size += chunk.byteLength;
    hash.update(chunk);
  }
  if (declared.length !== undefined && size !== declared.length) {
    throw new IntegrityError(`uploading ${key}: received ${size} bytes, expected ${declared.length}`);
  }
  const actual = hash.digest('hex');
  if (declared.sha256 !== undefined && actual !== declared.sha256) {
    throw new IntegrityError(`uploading ${key}: the bytes have sha256 ${actual}, expected ${declared.sha256}`);
  }
  if (actual === expected) return { stored: false, size };
  if (claimed !== undefined) {
    throw new IntegrityError(`uploading ${key}: the bytes have sha256 ${actual}, but the name claims ${claimed}`);
  }
  throw new ForbiddenError(
    `${key} exists with other bytes; agents are append-only and may not overwrite it; a tenant-admin may`,
  );
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

/** Passes `source` through, adding the bytes seen to `counter`. */
async function* counting(source: AsyncIterable<Uint8Array>, counter: { bytes: number }): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    counter.bytes += chunk.byteLength;
    yield chunk;
  }
}
