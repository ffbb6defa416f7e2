import { createHash } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { withRetries, type RetryPolicy } from '../object-store/retry.js';
import type { S3Config } from './s3-config.js';
import { S3_RETRY_CLASSIFIER } from './s3-errors.js';

/** Requests whose body the store checks against the Content-MD5 we send. */
const CHECKED_UPLOADS = new Set(['PutObjectCommand', 'UploadPartCommand']);

interface HttpRequestShape {
  headers: Record<string, string>;
  body?: unknown;
}

/**
 * The SDK client for one S3 endpoint, set up for what Ferry needs and what Ceph radosgw 16 understands:
 * - path-style addressing (`ENDPOINT/BUCKET/KEY`) for a custom endpoint, whose buckets have no DNS names;
 * - checksums only where the API requires them (`WHEN_REQUIRED`): the SDK's default streaming upload with
 *   a trailing CRC is refused by radosgw 16. Instead each upload (a whole small object, or one part)
 *   carries its Content-MD5, which the store checks;
 * - our retries (object-store/retry.ts: backoff on throttling, server and network errors) around every
 *   request, the multipart parts of lib-storage included; the SDK's own retry is off, so attempts do not
 *   multiply. Every request body is a buffer, so a retry sends the same bytes;
 * - a conditional copy's `x-amz-copy-source-if-match` also sent as `x-amz-copy-if-match`, the name radosgw
 *   16 reads (it ignores the standard one), for a custom endpoint.
 */
export function createS3Client(config: S3Config, retry: RetryPolicy): S3Client {
  const client = new S3Client({
    region: config.region,
    credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey, ...(config.sessionToken ? { sessionToken: config.sessionToken } : {}) },
    ...(config.endpoint !== undefined ? { endpoint: config.endpoint, forcePathStyle: true } : { followRegionRedirects: true }),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
  });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as HttpRequestShape;
      if (CHECKED_UPLOADS.has(context.commandName ?? '') && request.body instanceof Uint8Array && request.headers['content-md5'] === undefined) {
        request.headers['content-md5'] = createHash('md5').update(request.body).digest('base64');
      }
      const ifMatch = request.headers['x-amz-copy-source-if-match'];
      if (config.endpoint !== undefined && ifMatch !== undefined) request.headers['x-amz-copy-if-match'] = ifMatch;
      return next(args);
    },
    { step: 'build', name: 'ferryUploadChecks' },
  );
  client.middlewareStack.add((next) => (args) => withRetries(retry, S3_RETRY_CLASSIFIER, () => next(args)), { step: 'finalizeRequest', priority: 'high', name: 'ferryRetries' });
  return client;
}
