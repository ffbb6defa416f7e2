/**
 * The `s3://BUCKET[/PREFIX]` location of the S3 back end, parsed and formatted without the SDK, so that the
 * CLI and the service can read and compare such locations (the service's isolation rule) while only the
 * composition roots open one (storage/s3/). The endpoint, region and keys are not part of a location:
 * they come from the environment of the process that talks to the store (s3/s3-config.ts).
 */
import { UserError } from '../core/errors.js';
import { isValidKey, keyPrefixesOverlap } from './object-key.js';

export interface S3Location {
  /** The bucket: 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit. */
  readonly bucket: string;
  /** Where the objects live inside the bucket: '' or `/`-separated key segments, no leading or trailing `/`. */
  readonly prefix: string;
}

const BUCKET = /^[a-z0-9](?:[a-z0-9-]|\.(?!\.))*[a-z0-9]$/;
/** Leaves room under the prefix for the longest object key (object-key.ts) within S3's 1024-byte keys. */
export const MAX_S3_PREFIX_LENGTH = 256;

const FORM = 'use s3://BUCKET[/PREFIX] (keys, region and endpoint come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and AWS_ENDPOINT_URL_S3, never from the URL)';

/**
 * Parses `s3://BUCKET[/PREFIX]`. A trailing `/` is dropped. Throws a `UserError` saying what is accepted
 * for anything else, including a URL carrying a credential (user info, a query, a fragment) or a port:
 * a credential never travels inside a location, which the service stores and shows. The message never
 * repeats the URL, which may hold a secret.
 */
export function parseS3Url(url: string): S3Location {
  const match = /^s3:\/\/([^/?#]*)(\/[^?#]*)?$/i.exec(url);
  if (match === null) {
    if (/^s3:\/\/[^/]*@|[?#]/i.test(url)) throw new UserError(`an s3:// location must not contain credentials, a query or a fragment: ${FORM}`);
    throw new UserError(`invalid s3:// location: ${FORM}`);
  }
  const bucket = match[1]!;
  const path = (match[2] ?? '').replace(/^\//, '').replace(/\/$/, '');
  if (bucket.includes('@') || bucket.includes(':')) throw new UserError(`an s3:// location must not contain credentials or a port: ${FORM}`);
  if (bucket.length < 3 || bucket.length > 63 || !BUCKET.test(bucket) || /^[0-9.]+$/.test(bucket)) {
    throw new UserError(`invalid S3 bucket "${bucket}": 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit; ${FORM}`);
  }
  if (path !== '' && (!isValidKey(path) || path.length > MAX_S3_PREFIX_LENGTH)) {
    throw new UserError(`invalid prefix "${path}" in an s3:// location: segments of [A-Za-z0-9._-] separated by single "/", at most ${MAX_S3_PREFIX_LENGTH} characters`);
  }
  return { bucket, prefix: path };
}

/** The canonical spelling: `s3://BUCKET[/PREFIX]`. */
export function formatS3Url(location: S3Location): string {
  return `s3://${location.bucket}${location.prefix === '' ? '' : `/${location.prefix}`}`;
}

/** `location` with `segment` (a valid key segment or path) appended to its prefix. */
export function s3SubLocation(location: S3Location, segment: string): S3Location {
  return { ...location, prefix: location.prefix === '' ? segment : `${location.prefix}/${segment}` };
}

/**
 * True when the objects of one location could be among those of the other: the same bucket, and one
 * prefix equal to the other or a whole-segment prefix of it. (One process reaches one S3 endpoint, so a
 * bucket name names one bucket.)
 */
export function s3LocationsOverlap(a: S3Location, b: S3Location): boolean {
  return a.bucket === b.bucket && keyPrefixesOverlap(a.prefix, b.prefix);
}
