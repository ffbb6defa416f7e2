import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type GetObjectCommandOutput, type ListObjectsV2CommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { AlreadyExistsError, IntegrityError, NotFoundError, PermanentError } from '../../core/errors.js';
import { assertTargetHolds, assertValidKey, assertValidPrefix, assertValidRange, isValidKey } from '../object-key.js';
import { guardedBody, InterruptedBodyError, readBody, readBodyInto, totalOf } from '../object-store/response-body.js';
import { withRetries, type RetryPolicy } from '../object-store/retry.js';
import { checkedSource } from '../object-store/source-checks.js';
import type { StoreAction } from '../object-store/store-errors.js';
import { formatS3Url, type S3Location } from '../s3-url.js';
import { beginGathered } from '../gathered-writer.js';
import type { ByteRange, ObjectInfo, ObjectWriter, SaveOptions, Storage, StorageProperties } from '../storage.js';
import { isBucketMissing, s3StatusOf, translateS3Error } from './s3-errors.js';

/** Objects up to this size go up in one PutObject; larger ones as multipart uploads of parts this size (S3's minimum is 5 MiB). */
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
/** Parts of one save in flight at once (memory: this many parts, plus the one being filled). */
const PARALLEL_PARTS = 4;
/** S3's longest key, in bytes (our keys are ASCII). */
const MAX_OBJECT_KEY = 1024;
/** Keys per listing page (the service's maximum). */
const LIST_PAGE = 1000;

/** What the storage needs from the endpoint that opened it (s3-endpoint.ts). */
export interface S3StorageOptions {
  readonly client: S3Client;
  readonly location: S3Location;
  readonly retry: RetryPolicy;
  /** Creates the bucket when it is missing; called before the first save of each bucket. */
  readonly ensureBucket: (bucket: string) => Promise<void>;
  /** The part size of large objects, and the largest object sent in one request. */
  readonly partSize?: number;
}

/** Retries what the request retries of s3-client.ts cannot: a response body that broke off while read. */
const BODY_RETRIES = { isRetryable: (err: unknown) => err instanceof InterruptedBodyError, retryAfterMs: () => undefined };

/**
 * A Storage in an S3 bucket, under the location's prefix: the key `data/ab/abcd…` is the object
 * `PREFIX/data/ab/abcd…`. S3 keys are at most 1024 bytes, so under a prefix of P characters keys longer
 * than 1023 - P are refused with a `PermanentError` (repository keys have fewer than 80).
 *
 * - save streams the source through lib-storage's Upload: an object up to `partSize` goes up with one
 *   PutObject, a larger one as a multipart upload (a few parts in flight), each request with its
 *   Content-MD5 checked by the store. The source is checked as it is read (object-store/source-checks.ts)
 *   and the upload is completed only after its end, so a source that fails or does not match its length
 *   or SHA-256 completes nothing (the multipart upload is aborted; its parts are never listed). After a
 *   multipart completion the object's size is confirmed with HeadObject (radosgw answers the completion
 *   with an empty ETag). The first save into a missing bucket creates it (so `init` does).
 * - load reads a range with one ranged GET; a range past the end is an `IntegrityError`, found from the
 *   response's Content-Range before the body is read. A whole load of an object stored in one request is
 *   checked against its ETag (the MD5 of its bytes) unless the store encrypts with KMS or a customer key.
 * - list pages through the bucket with ListObjectsV2; a missing bucket lists nothing (as a missing folder
 *   does on the filesystem), any other failure rejects (never an empty listing). Keys that are not valid
 *   keys of the seam are skipped.
 * - Requests are retried by the client (s3-client.ts); SDK errors are translated at this edge
 *   (s3-errors.ts, with the rules of object-store/store-errors.ts).
 * - Concurrent saves of one key: the last PutObject or completion wins whole. With `ifAbsent` the
 *   PutObject carries `If-None-Match: *` and the store refuses it when the object exists (412 →
 *   `AlreadyExistsError`), so of concurrent creates exactly one is stored. Such a save is at most one part
 *   (`partSize`), a larger source a `PermanentError` storing nothing: Ceph radosgw 16 honours the condition
 *   on PutObject but ignores it on CompleteMultipartUpload (measured: a second completion replaced the
 *   object), and the service creates only small objects this way (docs/service-http-storage.md).
 */
export class S3Storage implements Storage {
  readonly properties: StorageProperties;
  readonly #client: S3Client;
  readonly #location: S3Location;
  readonly #base: string;
  readonly #retry: RetryPolicy;
  readonly #ensureBucket: (bucket: string) => Promise<void>;
  readonly #partSize: number;

  constructor(options: S3StorageOptions) {
    this.#client = options.client;
    this.#location = options.location;
    this.#base = options.location.prefix === '' ? '' : `${options.location.prefix}/`;
    this.#retry = options.retry;
    this.#ensureBucket = options.ensureBucket;
    this.#partSize = options.partSize ?? DEFAULT_PART_SIZE;
    this.properties = { location: formatS3Url(options.location), serverSideCopy: true };
  }

  get bucket(): string {
    return this.#location.bucket;
  }

  /** The object key of `key` in the bucket (checked first). */
  objectKey(key: string): string {
    assertValidKey(key);
    const name = this.#base + key;
    if (name.length > MAX_OBJECT_KEY) {
      throw new PermanentError(`the key ${key.slice(0, 40)}… is too long for ${this.properties.location}: with its prefix it exceeds S3's ${MAX_OBJECT_KEY}-byte keys`);
    }
    return name;
  }

  async save(key: string, data: Uint8Array | AsyncIterable<Uint8Array>, options: SaveOptions = {}): Promise<void> {
    const Key = this.objectKey(key);
    await this.#request('save', key, () => this.#ensureBucket(this.#location.bucket));
    let size = 0;
    const ifAbsent = options.ifAbsent === true;
    const partSize = this.#partSize;
    const location = this.properties.location;
    let sourceFailure: { error: unknown } | undefined;
    async function* copies(): AsyncGenerator<Buffer> {
      try {
        // Copied: lib-storage holds chunks until a part is full, and a source may reuse its buffer.
        for await (const chunk of checkedSource(key, data, options)) {
          size += chunk.length;
          if (ifAbsent && size > partSize) {
            throw new PermanentError(`saving ${key} in ${location}: a create-only save is at most ${partSize} bytes on S3 (one PutObject; radosgw ignores the condition of a multipart completion)`);
          }
          yield Buffer.from(chunk);
        }
      } catch (error) {
        sourceFailure = { error };
        throw error;
      }
    }
    const upload = new Upload({
      client: this.#client,
      params: { Bucket: this.#location.bucket, Key, Body: Readable.from(copies()), ...(ifAbsent ? { IfNoneMatch: '*' } : {}) },
      partSize: this.#partSize,
      queueSize: PARALLEL_PARTS,
      leavePartsOnError: false,
    });
    try {
      await this.#request('save', key, async () => {
        try {
          await upload.done();
        } catch (err) {
          if (ifAbsent && s3StatusOf(err) === 412) throw new AlreadyExistsError(`object ${key} already exists in ${location}`, { cause: err });
          throw err;
        }
      });
    } catch (err) {
      // The source's own error (or our check of it) is the reason, whatever the upload made of it.
      if (sourceFailure) throw sourceFailure.error;
      throw err;
    }
    if (size > this.#partSize) {
      const head = await this.#request('save', key, () => this.#client.send(new HeadObjectCommand({ Bucket: this.#location.bucket, Key })));
      if (head.ContentLength !== size) throw new IntegrityError(`saving ${key} in ${this.properties.location}: the store holds ${head.ContentLength} bytes after the upload of ${size}`);
    }
  }

  /** Gathers the bytes in memory and uploads them at commit, as a whole save (see beginGathered). */
  begin(folder: string): Promise<ObjectWriter> {
    return beginGathered(this, folder);
  }

  async load(key: string, range?: ByteRange): Promise<Buffer> {
    if (range === undefined) {
      const Key = this.objectKey(key);
      return this.#request('load', key, async () => {
        const response = await this.#client.send(new GetObjectCommand({ Bucket: this.#location.bucket, Key }));
        const bytes = await readBody(bodyOf(response, key), response.ContentLength ?? 0);
        if (bytes.length !== response.ContentLength) throw new InterruptedBodyError(`loading ${key}: got ${bytes.length} of ${response.ContentLength} bytes`);
        const md5 = storedMd5(response);
        if (md5 !== undefined && createHash('md5').update(bytes).digest('hex') !== md5) {
          throw new IntegrityError(`loading ${key} from ${this.properties.location}: the bytes do not match the MD5 stored with the object`);
        }
        return bytes;
      });
    }
    assertValidRange(key, range);
    // The buffer exists only once the range is known to fit the object: a huge range costs no memory.
    return this.#readRange(key, range, () => Buffer.allocUnsafe(range.length));
  }

  /** Reads `range` straight from the response into `target` (one copy per byte, no buffer of its own). */
  async loadInto(key: string, range: ByteRange, target: Uint8Array): Promise<void> {
    assertValidRange(key, range);
    assertTargetHolds(key, range, target);
    await this.#readRange(key, range, () => target);
  }

  /** Reads `range` with one ranged GET (repeated when its body breaks off) into the buffer `into` gives once the range is known to exist. */
  async #readRange<B extends Uint8Array>(key: string, range: ByteRange, into: () => B): Promise<B> {
    const Key = this.objectKey(key);
    if (range.length === 0) {
      const { size } = await this.stat(key);
      if (range.offset > size) throw this.#tooShort(key, size, range);
      return into();
    }
    return this.#request('load', key, async () => {
      let response: GetObjectCommandOutput;
      try {
        response = await this.#client.send(new GetObjectCommand({ Bucket: this.#location.bucket, Key, Range: `bytes=${range.offset}-${range.offset + range.length - 1}` }));
      } catch (err) {
        // 416: the range starts at or past the end; how long the object is only a stat tells.
        if (s3StatusOf(err) === 416) throw this.#tooShort(key, (await this.stat(key)).size, range);
        throw err;
      }
      const total = totalOf(response.ContentRange);
      if (total !== undefined && range.offset + range.length > total) {
        (response.Body as { destroy?: () => void } | undefined)?.destroy?.();
        throw this.#tooShort(key, total, range);
      }
      const buffer = into();
      const read = await readBodyInto(bodyOf(response, key), buffer, range.length);
      if (read !== range.length) {
        if (total === undefined) throw this.#tooShort(key, range.offset + read, range);
        throw new InterruptedBodyError(`loading ${key}: got ${read} of ${range.length} bytes`);
      }
      return buffer;
    });
  }

  async stat(key: string): Promise<ObjectInfo> {
    const Key = this.objectKey(key);
    const head = await this.#request('stat', key, () => this.#client.send(new HeadObjectCommand({ Bucket: this.#location.bucket, Key })));
    return { key, size: head.ContentLength ?? 0 };
  }

  async list(prefix: string, onObject: (info: ObjectInfo) => void | Promise<void>): Promise<void> {
    assertValidPrefix(prefix);
    let ContinuationToken: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.#request('list', prefix, () =>
          this.#client.send(new ListObjectsV2Command({ Bucket: this.#location.bucket, Prefix: this.#base + prefix, MaxKeys: LIST_PAGE, ...(ContinuationToken ? { ContinuationToken } : {}) })),
        );
      } catch (err) {
        // A missing bucket holds no objects, as a missing folder on the filesystem; nothing else is taken as empty.
        if (isBucketMissing((err as Error).cause)) return;
        throw err;
      }
      for (const item of page.Contents ?? []) {
        const name = item.Key ?? '';
        const key = name.slice(this.#base.length);
        if (!name.startsWith(this.#base) || !isValidKey(key)) continue;
        await onObject({ key, size: item.Size ?? 0 });
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      if (page.IsTruncated && !ContinuationToken) throw new Error(`listing ${prefix} in ${this.properties.location}: the store said the listing goes on but gave no continuation token`);
    } while (ContinuationToken !== undefined);
  }

  async remove(key: string): Promise<void> {
    const Key = this.objectKey(key);
    try {
      await this.#request('remove', key, () => this.#client.send(new DeleteObjectCommand({ Bucket: this.#location.bucket, Key })));
    } catch (err) {
      if (err instanceof NotFoundError || isBucketMissing((err as Error).cause)) return;
      throw err;
    }
  }

  async close(): Promise<void> {}

  /**
   * Runs one step and translates its error (the SDK's error stays its `cause`). Its requests are retried
   * by the client; the step as a whole again when a response body broke off while read.
   */
  async request<T>(action: StoreAction, key: string, step: () => Promise<T>): Promise<T> {
    return this.#request(action, key, step);
  }

  async #request<T>(action: StoreAction, key: string, step: () => Promise<T>): Promise<T> {
    try {
      return await withRetries(this.#retry, BODY_RETRIES, step);
    } catch (err) {
      throw translateS3Error(err, action, key, this.properties.location);
    }
  }

  #tooShort(key: string, size: number, range: ByteRange): IntegrityError {
    return new IntegrityError(`${key} in ${this.properties.location} has ${size} bytes, too few for the range ${range.offset}+${range.length}`);
  }
}

/** The response's body, its read errors turned into InterruptedBodyError (retried). */
export function bodyOf(response: GetObjectCommandOutput, key: string): AsyncIterable<Uint8Array> {
  return guardedBody((response.Body as AsyncIterable<Uint8Array> | undefined) ?? [], key);
}

/**
 * The MD5 of the object's bytes as its ETag says, when it does: an object stored in one request without
 * KMS or customer-key encryption (a multipart object's ETag is not an MD5 of its bytes).
 */
function storedMd5(response: GetObjectCommandOutput): string | undefined {
  if (response.SSECustomerAlgorithm !== undefined || (response.ServerSideEncryption ?? '').startsWith('aws:kms')) return undefined;
  const match = /^"?([0-9a-f]{32})"?$/.exec(response.ETag ?? '');
  return match?.[1];
}
