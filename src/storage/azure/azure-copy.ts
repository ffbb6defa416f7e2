import { createHash } from 'node:crypto';
import { BlobSASPermissions, StorageSharedKeyCredential, type BlockBlobClient } from '@azure/storage-blob';
import { IntegrityError } from '../../core/errors.js';
import type { AzureBlobStorage } from './azure-blob-storage.js';

/** Copy Blob From URL (synchronous) takes sources up to this size; larger ones use the asynchronous Copy Blob. */
const SYNC_COPY_LIMIT = 256 * 1024 * 1024;
/** How long the read-only SAS of a copy's source is valid. */
const SAS_LIFETIME_MS = 60 * 60 * 1000;

/**
 * Copies objects between two locations of one Azure storage account without sending their bytes up
 * through the client: the service copies them (Copy Blob From URL, or Copy Blob for objects over 256 MiB),
 * the source named by a URL signed with a short-lived read-only SAS made from the account key (or the SAS
 * of the connection string).
 *
 * The contract of the service's ObjectCopier: the copy must hash to the SHA-256 its name claims and
 * nothing else may become visible. An object store has no temp-and-rename, so the source is read and
 * hashed first (download only), and the copy is made on the condition that the source still has the
 * ETag that was hashed (`If-Match`): the copied bytes are the verified ones, or the copy fails and nothing
 * is stored.
 */
export class AzureObjectCopier {
  readonly #source: AzureBlobStorage;
  readonly #target: AzureBlobStorage;

  constructor(source: AzureBlobStorage, target: AzureBlobStorage) {
    this.#source = source;
    this.#target = target;
  }

  /**
   * Copies `sourceKey` to `targetKey` and returns its size. `IntegrityError` naming the key when the
   * source does not hash to `sha256` (nothing is copied); `NotFoundError` when the source does not exist.
   */
  async copy(sourceKey: string, targetKey: string, sha256: string): Promise<number> {
    const source = this.#source.blockBlob(sourceKey);
    const target = this.#target.blockBlob(targetKey);
    const { etag, size } = await this.#source.request('copy', sourceKey, async () => {
      const response = await source.download(0, undefined);
      const hash = createHash('sha256');
      let read = 0;
      for await (const chunk of response.readableStreamBody as AsyncIterable<Buffer>) {
        hash.update(chunk);
        read += chunk.length;
      }
      if (read !== response.contentLength) throw Object.assign(new Error(`the download of ${sourceKey} ended after ${read} bytes`), { code: 'ECONNRESET' });
      const actual = hash.digest('hex');
      if (actual !== sha256) throw new IntegrityError(`copying ${sourceKey}: the bytes have sha256 ${actual}, but the name claims ${sha256}`);
      return { etag: response.etag, size: read };
    });
    const url = await sourceUrl(source);
    const sourceConditions = etag !== undefined ? { ifMatch: etag } : {};
    await this.#target.request('save', targetKey, async () => {
      if (size <= SYNC_COPY_LIMIT) {
        await target.syncCopyFromURL(url, { sourceConditions });
        return;
      }
      const poller = await target.beginCopyFromURL(url, { sourceConditions, intervalInMs: 1000 });
      const result = await poller.pollUntilDone();
      if (result.copyStatus !== 'success') throw new Error(`the storage service's copy of ${sourceKey} ended as ${result.copyStatus ?? 'unknown'}`);
    });
    return size;
  }
}

/** The source blob's URL, readable by the service: a fresh read-only SAS when we hold the account key. */
async function sourceUrl(blob: BlockBlobClient): Promise<string> {
  if (!(blob.credential instanceof StorageSharedKeyCredential)) return blob.url;
  return blob.generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: new Date(Date.now() + SAS_LIFETIME_MS) });
}
