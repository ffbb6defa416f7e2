import { UserError } from '../../core/errors.js';

/** How the Azure Blob back end signs in, as read from the environment (never from a location). */
export type AzureCredentials =
  /** `AZURE_STORAGE_CONNECTION_STRING`: an account key or a SAS, and possibly a custom endpoint (Azurite). */
  | { readonly kind: 'connection-string'; readonly connectionString: string; readonly account: string | undefined }
  /** `AZURE_STORAGE_KEY`: the account key of the location's account, at `https://ACCOUNT.blob.core.windows.net`. */
  | { readonly kind: 'key'; readonly key: string };

/**
 * The credentials for `account` from `env`: `AZURE_STORAGE_CONNECTION_STRING` when set, else
 * `AZURE_STORAGE_KEY`. A `UserError` when neither is set, or when the connection string names another
 * account than the location (one process signs in to one account; the message names no secret).
 */
export function azureCredentialsFromEnv(env: NodeJS.ProcessEnv, account: string): AzureCredentials {
  const connectionString = env.AZURE_STORAGE_CONNECTION_STRING;
  if (connectionString !== undefined && connectionString !== '') {
    const named = connectionStringAccount(connectionString);
    if (named !== undefined && named !== account) {
      throw new UserError(`AZURE_STORAGE_CONNECTION_STRING is for storage account "${named}", but the location names "${account}": use a connection string of "${account}"`);
    }
    return { kind: 'connection-string', connectionString, account: named };
  }
  const key = env.AZURE_STORAGE_KEY;
  if (key !== undefined && key !== '') return { kind: 'key', key };
  throw new UserError(`no credentials for Azure storage account "${account}": set AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_KEY`);
}

/**
 * The account a connection string signs in to: its `AccountName`, else the first label of its
 * `BlobEndpoint` host (`ACCOUNT.blob.core.windows.net`), else the first path segment of an emulator's
 * endpoint (`http://127.0.0.1:10000/ACCOUNT`); undefined when none says.
 */
export function connectionStringAccount(connectionString: string): string | undefined {
  const fields = new Map<string, string>();
  for (const part of connectionString.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) fields.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  const name = fields.get('accountname');
  if (name) return name;
  const endpoint = fields.get('blobendpoint');
  if (!endpoint) return undefined;
  try {
    const url = new URL(endpoint);
    const segment = url.pathname.split('/').find((s) => s !== '');
    if (segment !== undefined) return segment;
    const label = url.hostname.split('.')[0];
    return label && !/^[0-9]+$/.test(label) ? label : undefined;
  } catch {
    return undefined;
  }
}
