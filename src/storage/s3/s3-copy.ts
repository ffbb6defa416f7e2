import { CopyObjectCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { copyVerified, type CopyEnds } from '../object-store/verified-copy.js';
import { bodyOf, type S3Storage } from './s3-storage.js';

/** CopyObject copies objects up to 5 GiB (larger ones would need UploadPartCopy; repository objects are far smaller). */
const COPY_LIMIT = 5 * 1024 * 1024 * 1024;

/**
 * Copies objects between two locations of one S3 endpoint (buckets and prefixes) without sending their
 * bytes up through the client: the store copies them (CopyObject).
 *
 * The contract of the service's ObjectCopier, kept by the object stores' verified copy
 * (object-store/verified-copy.ts): the source is downloaded and hashed first, then copied on the condition
 * that it still has the ETag that was hashed (`x-amz-copy-source-if-match`).
 */
export class S3ObjectCopier {
  readonly #ends: CopyEnds;

  constructor(client: S3Client, source: S3Storage, target: S3Storage, ensureBucket: (bucket: string) => Promise<void>) {
    this.#ends = {
      download: async (sourceKey) => {
        const response = await client.send(new GetObjectCommand({ Bucket: source.bucket, Key: source.objectKey(sourceKey) }));
        return { body: bodyOf(response, sourceKey), size: response.ContentLength, etag: response.ETag };
      },
      copyIfMatch: async (sourceKey, targetKey, etag, size) => {
        if (size > COPY_LIMIT) throw new Error(`copying ${sourceKey}: ${size} bytes is more than CopyObject copies (5 GiB)`);
        await ensureBucket(target.bucket);
        await client.send(
          new CopyObjectCommand({
            Bucket: target.bucket,
            Key: target.objectKey(targetKey),
            // Keys are of [A-Za-z0-9._-/]: nothing to escape.
            CopySource: `${source.bucket}/${source.objectKey(sourceKey)}`,
            ...(etag !== undefined ? { CopySourceIfMatch: etag } : {}),
          }),
        );
      },
      request: (action, key, step) => (action === 'copy' ? source : target).request(action, key, step),
    };
  }

  /**
   * Copies `sourceKey` to `targetKey` and returns its size. `IntegrityError` naming the key when the
   * source does not hash to `sha256` (nothing is copied); `NotFoundError` when the source does not exist.
   */
  copy(sourceKey: string, targetKey: string, sha256: string): Promise<number> {
    return copyVerified(this.#ends, sourceKey, targetKey, sha256);
  }
}
