import { CreateBucketCommand, HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { retryPolicyFromEnv, type RetryPolicy } from '../object-store/retry.js';
import type { S3Location } from '../s3-url.js';
import { createS3Client } from './s3-client.js';
import { DEFAULT_REGION, s3ConfigFromEnv, type S3Config } from './s3-config.js';
import { s3StatusOf } from './s3-errors.js';
import { S3ObjectCopier } from './s3-copy.js';
import { S3Storage } from './s3-storage.js';

export interface S3EndpointOptions {
  /** Where the keys, region and endpoint come from (injected: nothing here reads process.env). */
  readonly env: NodeJS.ProcessEnv;
  readonly retry?: RetryPolicy;
  /** The part size of large objects (at least 5 MiB; tests make it small). */
  readonly partSize?: number;
}

/**
 * Opens S3 locations for a composition root: one SDK client for the endpoint the environment names
 * (s3-config.ts), built on first use and shared by every location so that they share its connections. A
 * process without s3:// locations never needs the variables.
 *
 * Buckets are created when missing, as restic's `init` does: before the first save into a bucket, once
 * per process, a HeadBucket, and a CreateBucket (in the configured region) when it answers 404.
 */
export class S3Endpoint {
  readonly #options: S3EndpointOptions;
  #opened: { client: S3Client; config: S3Config } | undefined;
  readonly #buckets = new Map<string, Promise<void>>();

  constructor(options: S3EndpointOptions) {
    this.#options = options;
  }

  /** The Storage at `location`; a `UserError` when the environment has no credentials. */
  storage(location: S3Location): S3Storage {
    const { client } = this.#open();
    return new S3Storage({
      client,
      location,
      retry: this.#retry(),
      ensureBucket: (bucket) => this.#ensureBucket(bucket),
      ...(this.#options.partSize ? { partSize: this.#options.partSize } : {}),
    });
  }

  /** A server-side copier from `source` to `target`: any two locations of the endpoint (CopyObject copies across buckets). */
  copier(source: S3Location, target: S3Location): S3ObjectCopier {
    return new S3ObjectCopier(this.#open().client, this.storage(source), this.storage(target), (bucket) => this.#ensureBucket(bucket));
  }

  #open(): { client: S3Client; config: S3Config } {
    if (this.#opened) return this.#opened;
    const config = s3ConfigFromEnv(this.#options.env);
    this.#opened = { client: createS3Client(config, this.#retry()), config };
    return this.#opened;
  }

  /** The options' policy, else the environment's (FERRY_STORE_RETRY_*), else the default. */
  #retry(): RetryPolicy {
    return this.#options.retry ?? retryPolicyFromEnv(this.#options.env);
  }

  /** Concurrent first saves share one check; a failed check is tried again by the next save. */
  #ensureBucket(bucket: string): Promise<void> {
    let ready = this.#buckets.get(bucket);
    if (ready === undefined) {
      ready = this.#createIfMissing(bucket);
      ready.catch(() => this.#buckets.delete(bucket));
      this.#buckets.set(bucket, ready);
    }
    return ready;
  }

  async #createIfMissing(bucket: string): Promise<void> {
    const { client, config } = this.#open();
    try {
      await client.send(new HeadBucketCommand({ Bucket: bucket }));
      return;
    } catch (err) {
      if (s3StatusOf(err) !== 404) throw err;
    }
    try {
      const location = config.region === DEFAULT_REGION ? {} : { CreateBucketConfiguration: { LocationConstraint: config.region as never } };
      await client.send(new CreateBucketCommand({ Bucket: bucket, ...location }));
    } catch (err) {
      // Another process created it meanwhile.
      const code = (err as { name?: unknown }).name;
      if (code !== 'BucketAlreadyOwnedByYou') throw err;
    }
  }
}
