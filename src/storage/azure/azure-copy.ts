import { BlobSASPermissions, StorageSharedKeyCredential, type BlockBlobClient } from '@azure/storage-blob';
import { copyVerified, type CopyEnds } from '../object-store/verified-copy.js';
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
 * The contract of the service's ObjectCopier, kept by the object stores' verified copy
 * (object-store/verified-copy.ts): the source is downloaded and hashed first, then copied on the condition
 * that it still has the ETag that was hashed (`If-Match`).
 */
export class AzureObjectCopier {
  readonly #ends: CopyEnds;

  constructor(source: AzureBlobStorage, target: AzureBlobStorage) {
    this.#ends = {
      download: async (sourceKey) => {
        const response = await source.blockBlob(sourceKey).download(0, undefined);
        return { body: response.readableStreamBody as AsyncIterable<Buffer>, size: response.contentLength, etag: response.etag };
      },
      copyIfMatch: async (sourceKey, targetKey, etag, size) => {
        const blob = target.blockBlob(targetKey);
        const url = await sourceUrl(source.blockBlob(sourceKey));
        const sourceConditions = etag !== undefined ? { ifMatch: etag } : {};
        if (size <= SYNC_COPY_LIMIT) {
          await blob.syncCopyFromURL(url, { sourceConditions });
          return;
        }
        const poller = await blob.beginCopyFromURL(url, { sourceConditions, intervalInMs: 1000 });
        const result = await poller.pollUntilDone();
        if (result.copyStatus !== 'success') throw new Error(`the storage service's copy of ${sourceKey} ended as ${result.copyStatus ?? 'unknown'}`);
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

/** The source blob's URL, readable by the service: a fresh read-only SAS when we hold the account key. */
async function sourceUrl(blob: BlockBlobClient): Promise<string> {
  if (!(blob.credential instanceof StorageSharedKeyCredential)) return blob.url;
  return blob.generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: new Date(Date.now() + SAS_LIFETIME_MS) });
}
