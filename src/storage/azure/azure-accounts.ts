import { BlobServiceClient, StorageSharedKeyCredential, type StoragePipelineOptions } from '@azure/storage-blob';
import type { AzureLocation } from '../azure-url.js';
import { AzureBlobStorage } from './azure-blob-storage.js';
import { AzureObjectCopier } from './azure-copy.js';
import { azureCredentialsFromEnv, type AzureCredentials } from './azure-credentials.js';
import { retryPolicyFromEnv, type RetryPolicy } from '../object-store/retry.js';

export interface AzureAccountsOptions {
  /** Where the credentials come from (injected: nothing here reads process.env). */
  readonly env: NodeJS.ProcessEnv;
  readonly retry?: RetryPolicy;
  /** The block size of large objects (tests make it small). */
  readonly blockSize?: number;
}

/** Our own retries (object-store/retry.ts) cover throttling too; the SDK's would multiply the attempts. */
const PIPELINE: StoragePipelineOptions = { retryOptions: { maxTries: 1 } };

/**
 * Opens Azure Blob locations for a composition root: one SDK client per storage account, built on first
 * use from the environment's credentials (azure-credentials.ts), shared by every location in it so that
 * they share its connections. A process without azure:// locations never needs the variables.
 */
export class AzureAccounts {
  readonly #options: AzureAccountsOptions;
  readonly #clients = new Map<string, { client: BlobServiceClient; credentials: AzureCredentials }>();

  constructor(options: AzureAccountsOptions) {
    this.#options = options;
  }

  /** The Storage at `location`; a `UserError` when the environment has no credentials for its account. */
  storage(location: AzureLocation): AzureBlobStorage {
    const { client } = this.#client(location.account);
    return new AzureBlobStorage({
      container: client.getContainerClient(location.container),
      location,
      retry: this.#options.retry ?? retryPolicyFromEnv(this.#options.env),
      ...(this.#options.blockSize ? { blockSize: this.#options.blockSize } : {}),
    });
  }

  /**
   * A server-side copier from `source` to `target`, or null when they are in different storage accounts
   * (then the caller streams).
   */
  copier(source: AzureLocation, target: AzureLocation): AzureObjectCopier | null {
    if (source.account !== target.account) return null;
    return new AzureObjectCopier(this.storage(source), this.storage(target));
  }

  #client(account: string): { client: BlobServiceClient; credentials: AzureCredentials } {
    const known = this.#clients.get(account);
    if (known) return known;
    const credentials = azureCredentialsFromEnv(this.#options.env, account);
    const client =
      credentials.kind === 'connection-string'
        ? BlobServiceClient.fromConnectionString(credentials.connectionString, PIPELINE)
        : new BlobServiceClient(`https://${account}.blob.core.windows.net`, new StorageSharedKeyCredential(account, credentials.key), PIPELINE);
    const opened = { client, credentials };
    this.#clients.set(account, opened);
    return opened;
  }
}
