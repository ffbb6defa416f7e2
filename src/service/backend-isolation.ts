import { lstat, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import { ConflictError, isErrno } from '../core/errors.js';
import { azureLocationsOverlap, azureSubLocation } from '../storage/azure-url.js';
import { s3LocationsOverlap, s3SubLocation } from '../storage/s3-url.js';
import { checkContainerName, formatBackendLocation, fsFolderOf, storageAccountLocation, type BackendLocation, type ObjectStoreLocation } from './backend-location.js';
import type { ServiceDatabase } from './db/database.js';

/**
 * A storage account's back end (or one of its containers) overlaps what it may not: the service's data
 * directory, another storage account's back end, or a folder outside its account. The service refuses to
 * create such an account and refuses to serve one that became so later (a symlink changed).
 */
export class BackendOverlapError extends ConflictError {
  override readonly code = 'BACKEND_OVERLAP';
}

/** A storage account as the isolation rules see it. */
export interface AccountBackend {
  readonly id: string;
  readonly tenant_id: string;
  /** The back-end URL, or null for the default DATA_DIR/storage-accounts/<id>. */
  readonly backend: string | null;
}

/** One storage account the start-up check refused, with the reason (for the service log). */
export interface RefusedAccount {
  readonly accountId: string;
  readonly tenantId: string;
  readonly reason: string;
}

/**
 * The real path of `path`: every symlink resolved. A path that does not exist yet is its nearest existing
 * ancestor's real path joined with the rest, so a back end is judged by where its files would land. A
 * dangling symlink on the way is refused (`BackendOverlapError`): where it would lead is not known yet.
 */
export async function realPathOf(path: string): Promise<string> {
  const missing: string[] = [];
  let at = path;
  for (;;) {
    try {
      return join(await realpath(at), ...missing);
    } catch (err) {
      if (isErrno(err, 'ENOTDIR')) throw new BackendOverlapError(`${path} leads through a file, not a folder: the back end cannot be used`, { cause: err });
      if (!isErrno(err, 'ENOENT')) throw err;
    }
    if (await existsAsLink(at)) throw new BackendOverlapError(`${at} is a symlink to a path that does not exist: the back end cannot be judged`);
    const parent = dirname(at);
    if (parent === at) return join(at, ...missing);
    missing.unshift(basename(at));
    at = parent;
  }
}

async function existsAsLink(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isSymbolicLink();
  } catch {
    return false;
  }
}

/** True when `inner` is `outer` or inside it (both absolute, normalized). */
export function isWithin(inner: string, outer: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${sep}`));
}

/** True when one of the two paths contains the other. */
export function pathsOverlap(a: string, b: string): boolean {
  return isWithin(a, b) || isWithin(b, a);
}

/**
 * Keeps storage accounts apart from the service's files and from each other, judged by real paths:
 * - an account with a back-end URL may not contain, or be inside, the data directory;
 * - a default account (no URL) lives at DATA_DIR/storage-accounts/<its id>, the one place inside the data
 *   directory an account may be; its real path may lead out of the data directory (the operator moved
 *   `storage-accounts` elsewhere by a symlink) but never to another place inside it, nor contain it;
 * - no two accounts overlap;
 * - a container is a valid container name and a plain folder right inside its account (not a symlink).
 *
 * An account in an object store (azure://, s3://) is never in the data directory; it overlaps another of the
 * same store when both are in the same container (Azure) or bucket (S3) and one's prefix is the other's or a
 * whole-segment prefix of it.
 * Its containers are prefixes below its own (`PREFIX/<container>`), so they cannot leave it.
 *
 * Checked when an account is created ({@link checkNewAccount}), for every account at start
 * ({@link refusedAccounts}), and before each container is opened ({@link confinedContainer}), so a symlink
 * changed while the service runs is caught too. An account that fails is refused (`BackendOverlapError`,
 * 409), the other accounts are served; when two accounts overlap, both are refused (which one was moved
 * cannot be told). The last verified real path of each account is remembered: an
 * unchanged account is not compared with all others again.
 */
export class BackendIsolation {
  readonly #dataDir: string;
  /** account id → the real data directory and account path it was last verified with. */
  readonly #verified = new Map<string, string>();

  constructor(dataDir: string) {
    this.#dataDir = dataDir;
  }

  /**
   * Checks an account about to be created against the data directory and every existing account;
   * `BackendOverlapError` saying what it overlaps. Run it in the insert's transaction so that two
   * creations cannot both pass.
   */
  async checkNewAccount(db: ServiceDatabase, account: AccountBackend): Promise<void> {
    await this.#verify(account, await allAccounts(db), { detailed: true });
  }

  /** Every account that breaks the rules now, with the reason; the start-up check logs them. */
  async refusedAccounts(db: ServiceDatabase): Promise<RefusedAccount[]> {
    const accounts = await allAccounts(db);
    const refused: RefusedAccount[] = [];
    for (const account of accounts) {
      try {
        await this.#verify(account, accounts, { detailed: true });
      } catch (err) {
        if (!(err instanceof BackendOverlapError)) throw err;
        refused.push({ accountId: account.id, tenantId: account.tenant_id, reason: err.message });
      }
    }
    return refused;
  }

  /**
   * Where container `container` of `account` lives, by its real path, after checking the account (see the
   * class) and the container: `UserError` for an invalid container name, `BackendOverlapError` when the
   * account overlaps what it may not or the container is not a plain folder right inside it.
   */
  async confinedContainer(db: ServiceDatabase, account: AccountBackend, container: string): Promise<BackendLocation> {
    checkContainerName(container);
    const location = storageAccountLocation(this.#dataDir, account);
    if (location.scheme !== 'fs') {
      if (this.#verified.get(account.id) !== formatBackendLocation(location)) await this.#verify(account, await allAccounts(db), { detailed: false });
      return subLocation(location, container);
    }
    const accountPath = await this.#verifiedAccountPath(db, account);
    const path = join(accountPath, container);
    const real = await realPathOf(path);
    if (real !== path) {
      throw new BackendOverlapError(`container "${container}" of storage account ${account.id} is not a plain folder inside the account (a symlink?): it is refused; an admin must replace it by a folder`);
    }
    return { scheme: 'fs', path };
  }

  async #verifiedAccountPath(db: ServiceDatabase, account: AccountBackend): Promise<string> {
    const real = await this.#realPaths(account);
    if (this.#verified.get(account.id) === real.key) return real.account;
    await this.#verify(account, await allAccounts(db), { detailed: false });
    return real.account;
  }

  async #realPaths(account: AccountBackend): Promise<{ dataDir: string; account: string; key: string }> {
    const dataDir = await realPathOf(this.#dataDir);
    const path = await realPathOf(accountPath(this.#dataDir, account));
    return { dataDir, account: path, key: `${dataDir}\n${path}` };
  }

  /**
   * Checks `account` against the data directory and `others` (itself is skipped). `detailed` messages name
   * paths and the other account (for the admin and the log); otherwise the message is fit for any caller.
   */
  async #verify(account: AccountBackend, others: readonly AccountBackend[], { detailed }: { detailed: boolean }): Promise<void> {
    this.#verified.delete(account.id);
    const location = storageAccountLocation(this.#dataDir, account);
    if (location.scheme !== 'fs') return this.#verifyObjectStore(account, location, others, detailed);
    const real = await this.#realPaths(account);
    const refuse = (why: string, detail: string): never => {
      throw new BackendOverlapError(
        `storage account ${account.id}: its back end ${why}${detailed ? ` (${detail})` : ''}; the service refuses to use it until an admin moves it`,
      );
    };
    const dataDirProblem = dataDirRule(account, real.account, real.dataDir);
    if (dataDirProblem !== null) refuse(dataDirProblem, real.account);
    for (const other of others) {
      if (other.id === account.id || storageAccountLocation(this.#dataDir, other).scheme !== 'fs') continue;
      const otherPath = await realPathOf(accountPath(this.#dataDir, other));
      // An account that breaks the data directory rule is refused for that (its own fault), not a reason to refuse this one.
      if (dataDirRule(other, otherPath, real.dataDir) !== null) continue;
      if (pathsOverlap(real.account, otherPath)) {
        // Which of the two was moved cannot be told: the other one is checked again (and refused) on its next open too.
        this.#verified.delete(other.id);
        refuse('overlaps the back end of another storage account', `${real.account} and ${otherPath}, storage account ${other.id}`);
      }
    }
    this.#verified.set(account.id, real.key);
  }

  /** {@link #verify} for an account in an object store: compared with the other accounts of the same store. */
  #verifyObjectStore(account: AccountBackend, location: ObjectStoreLocation, others: readonly AccountBackend[], detailed: boolean): void {
    const url = formatBackendLocation(location);
    for (const other of others) {
      if (other.id === account.id) continue;
      const otherLocation = storageAccountLocation(this.#dataDir, other);
      if (!objectStoreLocationsOverlap(location, otherLocation)) continue;
      this.#verified.delete(other.id);
      throw new BackendOverlapError(
        `storage account ${account.id}: its back end overlaps the back end of another storage account${detailed ? ` (${url} and ${formatBackendLocation(otherLocation)}, storage account ${other.id})` : ''}; the service refuses to use it until an admin moves it`,
      );
    }
    this.#verified.set(account.id, url);
  }
}

/** True when two locations are in the same object store and their objects could mix (same container or bucket, overlapping prefixes). */
function objectStoreLocationsOverlap(a: ObjectStoreLocation, b: BackendLocation): boolean {
  if (a.scheme === 'azure' && b.scheme === 'azure') return azureLocationsOverlap(a, b);
  if (a.scheme === 's3' && b.scheme === 's3') return s3LocationsOverlap(a, b);
  return false;
}

/** Where a Ferry container of an account in an object store lives: a prefix below the account's. */
function subLocation(location: ObjectStoreLocation, container: string): ObjectStoreLocation {
  return location.scheme === 'azure' ? { ...location, ...azureSubLocation(location, container) } : { ...location, ...s3SubLocation(location, container) };
}

/** Why `account`, at real path `real`, breaks the data directory rule (see BackendIsolation), or null. */
function dataDirRule(account: AccountBackend, real: string, dataDir: string): string | null {
  if (account.backend !== null) return pathsOverlap(real, dataDir) ? "overlaps the service's data directory" : null;
  if (isWithin(dataDir, real)) return "contains the service's data directory";
  if (isWithin(real, dataDir) && real !== join(dataDir, 'storage-accounts', account.id)) return "leads to another place in the service's data directory";
  return null;
}

/** The folder of an account on the filesystem (callers skip accounts in object stores first). */
function accountPath(dataDir: string, account: AccountBackend): string {
  return fsFolderOf(storageAccountLocation(dataDir, account));
}

async function allAccounts(db: ServiceDatabase): Promise<AccountBackend[]> {
  return db.selectFrom('storage_accounts').select(['id', 'tenant_id', 'backend']).orderBy('id').execute();
}
