import { resolve } from 'node:path';
import { UserError } from '../core/errors.js';
import type { Failpoints } from '../core/failpoints.js';
import { AzureAccounts } from '../storage/azure/azure-accounts.js';
import { parseAzureUrl } from '../storage/azure-url.js';
import { FsStorage } from '../storage/fs/fs-storage.js';
import { HttpStorage } from '../storage/http/http-storage.js';
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
 * AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_KEY). Other schemes of the CLI contract (s3://) are
 * recognized and refused with a clear message until their back ends land.
 */
export function openStorage(location: string | undefined, options: OpenStorageOptions = {}): Storage {
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
    return new HttpStorage({ url: location, token, ...(options.transport ? { transport: options.transport } : {}) });
  }
  if (scheme === 'azure') return new AzureAccounts({ env: options.env ?? {} }).storage(parseAzureUrl(location));
  throw new UserError(`repository location scheme "${scheme}:" is not supported by this version; use a local path`);
}
