import { createHash, randomBytes } from 'node:crypto';
import type { BlockBlobClient, ContainerClient, ContainerListBlobFlatSegmentResponse } from '@azure/storage-blob';
import { AlreadyExistsError, IntegrityError, NotFoundError, PermanentError } from '../../core/errors.js';
import { formatAzureUrl, type AzureLocation } from '../azure-url.js';
import { assertTargetHolds, assertValidKey, assertValidPrefix, assertValidRange, isValidKey } from '../object-key.js';
import { beginGathered } from '../gathered-writer.js';
import type { ByteRange, ObjectInfo, ObjectWriter, SaveOptions, Storage, StorageProperties } from '../storage.js';
import { readBody, readBodyInto, totalOf } from '../object-store/response-body.js';
import { DEFAULT_RETRY, withRetries, type RetryPolicy } from '../object-store/retry.js';
import { checkedSource } from '../object-store/source-checks.js';
import type { StoreAction } from '../object-store/store-errors.js';
import { AZURE_RETRY_CLASSIFIER, errorCodeOf, statusOf, translateAzureError } from './azure-errors.js';

/** Objects up to this size go up in one request; larger ones as staged blocks of this size. */
export const DEFAULT_BLOCK_SIZE = 4 * 1024 * 1024;
/** Blocks of one save in flight at once (memory: this many blocks, plus the one being filled). */
const PARALLEL_BLOCKS = 4;
/** Azure's longest blob name. */
const MAX_BLOB_NAME = 1024;
/** Blobs per listing page (the service's maximum). */
const LIST_PAGE = 5000;

export interface AzureBlobStorageOptions {
  /** The container client of the location's account (built by open-azure.ts). */
  readonly container: ContainerClient;
  readonly location: AzureLocation;
  readonly retry?: RetryPolicy;
  /** The block size of large objects, and the largest object sent in one request. */
  readonly blockSize?: number;
}

/**
 * A Storage in an Azure Blob container, under the location's prefix: the key `data/ab/abcd…` is the block
 * blob `PREFIX/data/ab/abcd…`. Blob names are at most 1024 characters, so under a prefix of P characters
 * keys longer than 1023 - P are refused with a `PermanentError` (repository keys have fewer than 80).
 *
 * - save reads the source into blocks of `blockSize`. An object that fits one block is sent with one Put
 *   Blob; a larger one is staged block by block (a few in flight, each with its MD5 checked by the
 *   service) and becomes visible in one step with Put Block List, which happens only after the length and
 *   SHA-256 were checked: a failed save commits nothing (its uncommitted blocks are invisible and the
 *   service discards them). The whole object's MD5 is stored with it and checked on every whole load.
 *   The first save into a missing container creates it (so `init` does).
 * - load reads a range with one ranged GET; a range past the end is an `IntegrityError`, found from the
 *   response's Content-Range before the body is read.
 * - list pages through the container; a missing container lists nothing (as a missing folder does on the
 *   filesystem), any other failure rejects (never an empty listing). Names that are not valid keys are
 *   skipped.
 * - Each request is retried with backoff on throttling, server errors and network errors
 *   (object-store/retry.ts); SDK errors are translated at this edge (azure-errors.ts, with the rules of
 *   object-store/store-errors.ts).
 * - Concurrent saves of one key: the last Put Blob or Put Block List wins whole. (A large save whose blocks
 *   were discarded by another save's commit fails and may be retried.) With `ifAbsent` that request carries
 *   `If-None-Match: *`: the service refuses it when the blob exists (409 BlobAlreadyExists or 412
 *   ConditionNotMet → `AlreadyExistsError`), so of concurrent creates exactly one commits.
 */
export class AzureBlobStorage implements Storage {
  readonly properties: StorageProperties;
  readonly #container: ContainerClient;
  readonly #base: string;
  readonly #retry: RetryPolicy;
  readonly #blockSize: number;
  #containerCreation: Promise<void> | undefined;

  constructor(options: AzureBlobStorageOptions) {
    this.#container = options.container;
    this.#base = options.location.prefix === '' ? '' : `${options.location.prefix}/`;
    this.#retry = options.retry ?? DEFAULT_RETRY;
    this.#blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
    this.properties = { location: formatAzureUrl(options.location), serverSideCopy: true };
  }

  /** The blob name of `key` (checked first). */
  blobName(key: string): string {
    assertValidKey(key);
    const name = this.#base + key;
    // Azure's limit on blob names: under a prefix, the longest keys of the seam do not fit (repository keys are short).
    if (name.length > MAX_BLOB_NAME) {
      throw new PermanentError(`the key ${key.slice(0, 40)}… is too long for ${this.properties.location}: with its prefix it exceeds Azure's ${MAX_BLOB_NAME}-character blob names`);
    }
    return name;
  }

  /** The SDK's client of the blob that holds `key` (for the server-side copier, azure-copy.ts). */
  blockBlob(key: string): BlockBlobClient {
    return this.#container.getBlockBlobClient(this.blobName(key));
  }

  async save(key: string, data: Uint8Array | AsyncIterable<Uint8Array>, options: SaveOptions = {}): Promise<void> {
    const blob = this.#container.getBlockBlobClient(this.blobName(key));
    const md5 = createHash('md5');
    const blocks = new BlockStager(this, blob, key);
    let block = Buffer.allocUnsafe(this.#blockSize);
    let filled = 0;
    try {
      for await (const chunk of checkedSource(key, data, options, (bytes) => md5.update(bytes))) {
        // Copied into the block, since a source may reuse its buffer once asked for the next chunk.
        // A full block is staged only once more bytes come: an object of one block goes up in one request.
        for (let at = 0; at < chunk.byteLength; ) {
          if (filled === this.#blockSize) {
            await blocks.stage(block);
            block = Buffer.allocUnsafe(this.#blockSize);
            filled = 0;
          }
          const n = Math.min(chunk.byteLength - at, this.#blockSize - filled);
          block.set(chunk.subarray(at, at + n), filled);
          filled += n;
          at += n;
        }
      }
    } catch (err) {
      await blocks.settle();
      throw err;
    }
    const contentMD5 = md5.digest();
    // Create only: the service refuses the Put Blob or Put Block List when the blob exists.
    const conditions = options.ifAbsent === true ? { ifNoneMatch: '*' } : undefined;
    const rest = block.subarray(0, filled);
    if (blocks.count === 0) {
      await this.#request('save', key, async () => {
        const response = await refusedCreate(key, () => blob.upload(rest, rest.length, { blobHTTPHeaders: { blobContentMD5: contentMD5 }, conditions }));
        // The service returns the MD5 of what it received: a mismatch is damage in transit, worth another try.
        if (response.contentMD5 !== undefined && !Buffer.from(response.contentMD5).equals(contentMD5)) {
          throw Object.assign(new Error(`the storage service stored other bytes than were sent for ${key}`), { statusCode: 500 });
        }
      });
      return;
    }
    if (rest.length > 0) await blocks.stage(Buffer.from(rest));
    const ids = await blocks.finish();
    await this.#request('save', key, () => refusedCreate(key, () => blob.commitBlockList(ids, { blobHTTPHeaders: { blobContentMD5: contentMD5 }, conditions })));
  }

  /** Gathers the bytes in memory and uploads them at commit, as a whole save (see beginGathered). */
  begin(folder: string): Promise<ObjectWriter> {
    return beginGathered(this, folder);
  }

  async load(key: string, range?: ByteRange): Promise<Buffer> {
    if (range === undefined) {
      const blob = this.#container.getBlobClient(this.blobName(key));
      return this.#request('load', key, async () => {
        const response = await blob.download();
        const bytes = await readBody(response.readableStreamBody as AsyncIterable<Buffer> | undefined, response.contentLength ?? 0);
        if (bytes.length !== response.contentLength) throw new IntegrityError(`loading ${key} from ${this.properties.location}: got ${bytes.length} of ${response.contentLength} bytes`);
        if (response.contentMD5 !== undefined && !createHash('md5').update(bytes).digest().equals(Buffer.from(response.contentMD5))) {
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

  /** Reads `range` with one ranged GET (retried as a whole) into the buffer `into` gives once the range is known to exist. */
  async #readRange<B extends Uint8Array>(key: string, range: ByteRange, into: () => B): Promise<B> {
    const blob = this.#container.getBlobClient(this.blobName(key));
    if (range.length === 0) {
      const { size } = await this.stat(key);
      if (range.offset > size) throw this.#tooShort(key, size, range);
      return into();
    }
    return this.#request('load', key, async () => {
      let response;
      try {
        response = await blob.download(range.offset, range.length);
      } catch (err) {
        // 416: the range starts at or past the end; how long the object is only a stat tells.
        if (statusOf(err) === 416) throw this.#tooShort(key, (await this.stat(key)).size, range);
        throw err;
      }
      const total = totalOf(response.contentRange);
      if (total !== undefined && range.offset + range.length > total) {
        response.readableStreamBody?.destroy();
        throw this.#tooShort(key, total, range);
      }
      const buffer = into();
      const read = await readBodyInto(response.readableStreamBody as AsyncIterable<Buffer> | undefined, buffer, range.length);
      if (read !== range.length) throw this.#tooShort(key, range.offset + read, range);
      return buffer;
    });
  }

  async stat(key: string): Promise<ObjectInfo> {
    const blob = this.#container.getBlobClient(this.blobName(key));
    const properties = await this.#request('stat', key, () => blob.getProperties());
    return { key, size: properties.contentLength ?? 0 };
  }

  async list(prefix: string, onObject: (info: ObjectInfo) => void | Promise<void>): Promise<void> {
    assertValidPrefix(prefix);
    let continuationToken: string | undefined;
    do {
      let page: ContainerListBlobFlatSegmentResponse | undefined;
      try {
        page = await this.#request('list', prefix, async () => {
          const pages = this.#container.listBlobsFlat({ prefix: this.#base + prefix }).byPage({ maxPageSize: LIST_PAGE, ...(continuationToken ? { continuationToken } : {}) });
          const next: IteratorResult<ContainerListBlobFlatSegmentResponse> = await pages.next();
          return next.done ? undefined : next.value;
        });
      } catch (err) {
        // A missing container holds no objects, as a missing folder on the filesystem; nothing else is taken as empty.
        if (isContainerMissing((err as Error).cause)) return;
        throw err;
      }
      if (page === undefined) throw new Error(`listing ${prefix} in ${this.properties.location}: the storage service returned no page`);
      for (const item of page.segment.blobItems) {
        const key = item.name.slice(this.#base.length);
        if (!item.name.startsWith(this.#base) || !isValidKey(key)) continue;
        await onObject({ key, size: item.properties.contentLength ?? 0 });
      }
      continuationToken = page.continuationToken || undefined;
    } while (continuationToken !== undefined);
  }

  async remove(key: string): Promise<void> {
    const blob = this.#container.getBlobClient(this.blobName(key));
    try {
      await this.#request('remove', key, () => blob.deleteIfExists({ deleteSnapshots: 'include' }));
    } catch (err) {
      if (err instanceof NotFoundError || isContainerMissing((err as Error).cause)) return;
      throw err;
    }
  }

  async close(): Promise<void> {}

  /**
   * Runs one request with retries and translates its error (the SDK's error stays its `cause`). During a
   * save, a missing container is created and the request repeated once.
   */
  async request<T>(action: StoreAction, key: string, request: () => Promise<T>): Promise<T> {
    return this.#request(action, key, request);
  }

  async #request<T>(action: StoreAction, key: string, request: () => Promise<T>, createdContainer = false): Promise<T> {
    try {
      return await withRetries(this.#retry, AZURE_RETRY_CLASSIFIER, request);
    } catch (err) {
      if (action === 'save' && !createdContainer && isContainerMissing(err)) {
        // Concurrent first saves share one creation.
        this.#containerCreation ??= this.#createContainer(key).finally(() => (this.#containerCreation = undefined));
        await this.#containerCreation;
        return this.#request(action, key, request, true);
      }
      throw translateAzureError(err, action, key, this.properties.location);
    }
  }

  async #createContainer(key: string): Promise<void> {
    try {
      await withRetries(this.#retry, AZURE_RETRY_CLASSIFIER, () => this.#container.createIfNotExists());
    } catch (err) {
      throw translateAzureError(err, 'save', key, this.properties.location);
    }
  }

  #tooShort(key: string, size: number, range: ByteRange): IntegrityError {
    return new IntegrityError(`${key} in ${this.properties.location} has ${size} bytes, too few for the range ${range.offset}+${range.length}`);
  }
}

/** Stages the blocks of one save, a few at a time; ids are fixed-length and unique to this save. */
class BlockStager {
  readonly #storage: AzureBlobStorage;
  readonly #blob: BlockBlobClient;
  readonly #key: string;
  readonly #saveId = randomBytes(12).toString('hex');
  readonly #ids: string[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #failure: { error: unknown } | undefined;

  constructor(storage: AzureBlobStorage, blob: BlockBlobClient, key: string) {
    this.#storage = storage;
    this.#blob = blob;
    this.#key = key;
  }

  get count(): number {
    return this.#ids.length;
  }

  /** Starts staging `block` (which it now owns), after waiting for room; rejects with an earlier block's error. */
  async stage(block: Buffer): Promise<void> {
    while (this.#inFlight.size >= PARALLEL_BLOCKS) await Promise.race(this.#inFlight);
    if (this.#failure) throw this.#failure.error;
    const id = Buffer.from(`${this.#saveId}-${String(this.#ids.length).padStart(6, '0')}`).toString('base64');
    this.#ids.push(id);
    const transactionalContentMD5 = createHash('md5').update(block).digest();
    const staging = this.#storage
      .request('save', this.#key, () => this.#blob.stageBlock(id, block, block.length, { transactionalContentMD5 }))
      .then(
        () => undefined,
        (error: unknown) => void (this.#failure ??= { error }),
      )
      .finally(() => this.#inFlight.delete(staging));
    this.#inFlight.add(staging);
  }

  /** Waits for every block; the ids in order, or the first block's error. */
  async finish(): Promise<string[]> {
    await this.settle();
    if (this.#failure) throw this.#failure.error;
    return this.#ids;
  }

  /** Waits for the blocks in flight, ignoring their errors (the save is failing for another reason). */
  async settle(): Promise<void> {
    await Promise.all(this.#inFlight);
  }
}

/** True for the service's "this container does not exist". */
export function isContainerMissing(err: unknown): boolean {
  return statusOf(err) === 404 && errorCodeOf(err) === 'ContainerNotFound';
}

/** Runs a create request; the service's refusal of its `If-None-Match: *` is an `AlreadyExistsError`. */
async function refusedCreate<T>(key: string, request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (err) {
    const code = errorCodeOf(err);
    if (code === 'BlobAlreadyExists' || code === 'ConditionNotMet') throw new AlreadyExistsError(`object ${key} already exists`, { cause: err });
    throw err;
  }
}
