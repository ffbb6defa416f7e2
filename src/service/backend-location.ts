import { isAbsolute, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTAINER_PATTERN, CONTAINER_RULE } from '../contract/wire.js';
import { UserError } from '../core/errors.js';
import { formatAzureUrl, parseAzureUrl, type AzureLocation } from '../storage/azure-url.js';
import { formatS3Url, parseS3Url, type S3Location } from '../storage/s3-url.js';

/**
 * Where a storage account's (or one container's) objects live, as parsed from its back-end URL: a folder,
 * a container and prefix in an Azure storage account, or a bucket and prefix in S3 (a Ferry container is a
 * prefix below the account's: `azure://ACCOUNT/CONTAINER/PREFIX/<container>`, `s3://BUCKET/PREFIX/<container>`). Turning a
 * location into a Storage is the composition root's job (server.ts), so nothing else in the service names
 * a back end. No location holds a credential: those come from the service's environment.
 */
export type BackendLocation = FsBackendLocation | AzureBackendLocation | S3BackendLocation;
export type FsBackendLocation = { readonly scheme: 'fs'; readonly path: string };
export type AzureBackendLocation = { readonly scheme: 'azure' } & AzureLocation;
export type S3BackendLocation = { readonly scheme: 's3' } & S3Location;
/** A location in an object store (no folder, no data directory to overlap). */
export type ObjectStoreLocation = AzureBackendLocation | S3BackendLocation;

/** Schemes the design names but this version cannot open yet: refused with a message that says so. */
const FUTURE_SCHEMES = new Set(['http', 'https']);

/**
 * Parses a storage account's back-end URL: `fs:/absolute/path`, `file:///absolute/path`,
 * `azure://ACCOUNT/CONTAINER[/PREFIX]` or `s3://BUCKET[/PREFIX]` (storage/azure-url.ts, storage/s3-url.ts:
 * a URL carrying a credential is refused). Throws a `UserError` saying what is accepted for anything else.
 */
export function parseBackendUrl(url: string): BackendLocation {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'azure') return { scheme: 'azure', ...parseAzureUrl(url) };
  if (scheme === 's3') return { scheme: 's3', ...parseS3Url(url) };
  let path: string | undefined;
  if (scheme === 'fs') path = url.slice(3);
  else if (scheme === 'file') {
    try {
      path = fileURLToPath(url);
    } catch {
      path = undefined;
    }
  } else if (scheme !== undefined && FUTURE_SCHEMES.has(scheme)) {
    throw new UserError(`storage back end "${scheme}:" is not supported by this version of the service; use fs:/ABSOLUTE/PATH, azure://ACCOUNT/CONTAINER[/PREFIX], s3://BUCKET[/PREFIX] or omit the back end`);
  }
  if (path === undefined || path.length === 0 || !isAbsolute(path) || path.includes('\0')) {
    throw new UserError(`invalid storage back end "${url}": use fs:/ABSOLUTE/PATH, azure://ACCOUNT/CONTAINER[/PREFIX] or s3://BUCKET[/PREFIX] (or omit it for the service's data directory)`);
  }
  return { scheme: 'fs', path: normalize(path) };
}

/** The canonical spelling of a location, as stored in the database. */
export function formatBackendLocation(location: BackendLocation): string {
  switch (location.scheme) {
    case 'azure':
      return formatAzureUrl(location);
    case 's3':
      return formatS3Url(location);
    case 'fs':
      return `fs:${location.path}`;
  }
}

/** The folder of a filesystem location; an Error (a caller's bug) for a location in an object store. */
export function fsFolderOf(location: BackendLocation): string {
  if (location.scheme !== 'fs') throw new Error(`${formatBackendLocation(location)} is not a folder`);
  return location.path;
}

/** A storage account's location: its back-end URL, or by default DATA_DIR/storage-accounts/<id>. */
export function storageAccountLocation(dataDir: string, account: { readonly id: string; readonly backend: string | null }): BackendLocation {
  if (account.backend === null) return { scheme: 'fs', path: join(dataDir, 'storage-accounts', account.id) };
  return parseBackendUrl(account.backend);
}

/** Throws `UserError` unless `container` matches CONTAINER_PATTERN (src/contract/wire.ts: a container name as Azure allows it, which also keeps it inside its account on the filesystem). */
export function checkContainerName(container: string): void {
  if (!CONTAINER_PATTERN.test(container)) throw new UserError(`invalid container "${container}": ${CONTAINER_RULE}`);
}

/** Copies objects between two locations of one back end (server-side copy); see ServiceContext.copyWithinBackend. */
export interface ObjectCopier {
  /**
   * Copies `sourceKey` of the source location to `targetKey` of the target location atomically and returns
   * its size. The copy must hash to `sha256`, else an `IntegrityError` and nothing is stored;
   * `NotFoundError` when the source does not exist.
   */
  copy(sourceKey: string, targetKey: string, sha256: string): Promise<number>;
}
