import { resolve } from 'node:path';
import { UserError } from '../core/errors.js';
import type { Failpoints } from '../core/failpoints.js';
import { parseAzureUrl } from '../storage/azure-url.js';
import { parseS3Url } from '../storage/s3-url.js';
import { FsStorage } from '../storage/fs/fs-storage.js';
import type { HttpTransport } from '../storage/http/http-transport.js';
import type { Storage } from '../storage/storage.js';

/** What opening a location may need besides the location itself. */
export interface OpenStorageOptions {
  /** Armed failpoints, for the filesystem back end. */
  readonly failpoints?: Failpoints;
  /** The bearer token for an http(s):// vault; when absent, `env.FERRY_TOKEN`. */
  readonly token?: string;
  /** The environment to read FERRY_TOKEN and the object stores' credentials from (injected: nothing here reads process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** What an http(s):// vault sends requests with (the CLI's trusted CAs); default the system's CAs. */
  readonly transport?: HttpTransport;
}

/**
 * The Storage a repository location names: a path or `fs:PATH`, `http(s)://…/v1/vaults/VAULT` (a vault
 * of the Ferry service, with a token), or `azure://ACCOUNT/CONTAINER[/PREFIX]` (credentials from
 * AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_KEY), or `s3://BUCKET[/PREFIX]` (keys, region and
 * endpoint from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL_S3).
 *
 * A back end's modules (an SDK, an HTTP client) are loaded only when a location names it: every CLI run
 * opens a storage, and most of them a local path.
 */
export async function openStorage(location: string | undefined, options: OpenStorageOptions = {}): Promise<Storage> {
  if (!location) throw new UserError('no repository given: pass -r REPO or set FERRY_REPOSITORY');
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(location)?.[1]?.toLowerCase();
  if (scheme === undefined || scheme === 'fs') {
    const path = scheme === 'fs' ? location.slice(3) : location;
    if (path.length === 0) throw new UserError('the repository path is empty');
    return new FsStorage(resolve(path), { failpoints: options.failpoints });
  }
  if (scheme === 'http' || scheme === 'https') {
    const token = options.token ?? options.env?.FERRY_TOKEN;
    // The location is not echoed: a mistyped one might carry a credential.
    if (token === undefined || token === '') throw new UserError('no token for the vault: set FERRY_TOKEN');
    const { HttpStorage } = await import('../storage/http/http-storage.js');
    return new HttpStorage({ url: location, token, ...(options.transport ? { transport: options.transport } : {}) });
  }
  if (scheme === 'azure') {
    const { AzureAccounts } = await import('../storage/azure/azure-accounts.js');
    return new AzureAccounts({ env: options.env ?? {} }).storage(parseAzureUrl(location));
  }
  if (scheme === 's3') {
    const { S3Endpoint } = await import('../storage/s3/s3-endpoint.js');
    return new S3Endpoint({ env: options.env ?? {} }).storage(parseS3Url(location));
  }
  throw new UserError(`repository location scheme "${scheme}:" is not supported by this version; use a local path`);
}
