/**
 * The `azure://ACCOUNT/CONTAINER[/PREFIX]` location of the Azure Blob back end, parsed and formatted
 * without the SDK, so that the CLI and the service can read and compare such locations (the service's
 * isolation rule) while only the composition roots open one (storage/azure/).
 */
import { UserError } from '../core/errors.js';
import { isValidKey, keyPrefixesOverlap } from './object-key.js';

export interface AzureLocation {
  /** The storage account name: 3-24 lowercase letters and digits. */
  readonly account: string;
  /** The container: 3-63 lowercase letters, digits and single hyphens inside. */
  readonly container: string;
  /** Where the objects live inside the container: '' or `/`-separated key segments, no leading or trailing `/`. */
  readonly prefix: string;
}

const ACCOUNT = /^[a-z0-9]{3,24}$/;
const CONTAINER = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/;
/** Leaves room under the prefix for the longest object key (object-key.ts) within Azure's 1024-character blob names. */
export const MAX_AZURE_PREFIX_LENGTH = 256;

const FORM = 'use azure://ACCOUNT/CONTAINER[/PREFIX] (credentials come from AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_KEY, never from the URL)';

/**
 * Parses `azure://ACCOUNT/CONTAINER[/PREFIX]`. A trailing `/` is dropped. Throws a `UserError` saying what
 * is accepted for anything else, including a URL carrying a credential (user info, a query such as a SAS,
 * a fragment): a credential never travels inside a location, which the service stores and shows. The
 * message never repeats the URL, which may hold a secret.
 */
export function parseAzureUrl(url: string): AzureLocation {
  const match = /^azure:\/\/([^/?#]*)(\/[^?#]*)?$/i.exec(url);
  if (match === null) {
    if (/^azure:\/\/[^/]*@|[?#]/i.test(url)) throw new UserError(`an azure:// location must not contain credentials, a query or a fragment: ${FORM}`);
    throw new UserError(`invalid azure:// location: ${FORM}`);
  }
  const account = match[1]!;
  const path = (match[2] ?? '').replace(/^\//, '').replace(/\/$/, '');
  if (account.includes('@') || account.includes(':')) throw new UserError(`an azure:// location must not contain credentials or a port: ${FORM}`);
  if (!ACCOUNT.test(account)) throw new UserError(`invalid Azure storage account name "${account}": 3-24 lowercase letters and digits; ${FORM}`);
  const slash = path.indexOf('/');
  const container = slash < 0 ? path : path.slice(0, slash);
  const prefix = slash < 0 ? '' : path.slice(slash + 1);
  if (!CONTAINER.test(container)) throw new UserError(`invalid Azure container "${container}": 3-63 lowercase letters, digits and single hyphens inside; ${FORM}`);
  if (prefix !== '' && (!isValidKey(prefix) || prefix.length > MAX_AZURE_PREFIX_LENGTH)) {
    throw new UserError(`invalid prefix "${prefix}" in an azure:// location: segments of [A-Za-z0-9._-] separated by single "/", at most ${MAX_AZURE_PREFIX_LENGTH} characters`);
  }
  return { account, container, prefix };
}

/** The canonical spelling: `azure://ACCOUNT/CONTAINER[/PREFIX]`. */
export function formatAzureUrl(location: AzureLocation): string {
  return `azure://${location.account}/${location.container}${location.prefix === '' ? '' : `/${location.prefix}`}`;
}

/** `location` with `segment` (a valid key segment or path) appended to its prefix. */
export function azureSubLocation(location: AzureLocation, segment: string): AzureLocation {
  return { ...location, prefix: location.prefix === '' ? segment : `${location.prefix}/${segment}` };
}

/**
 * True when the objects of one location could be among those of the other: the same account and
 * container, and one prefix equal to the other or a whole-segment prefix of it (`a` and `a/b` overlap,
 * `a` and `ab` do not). An empty prefix overlaps every prefix of its container.
 */
export function azureLocationsOverlap(a: AzureLocation, b: AzureLocation): boolean {
  return a.account === b.account && a.container === b.container && keyPrefixesOverlap(a.prefix, b.prefix);
}
