import { createHash } from 'node:crypto';
import { IntegrityError, PermanentError } from '../../core/errors.js';
import { MemoryStorage } from '../../storage/memory-storage.js';
import { beginGathered } from '../../storage/gathered-writer.js';
import type { ByteRange, ObjectInfo, ObjectWriter, SaveOptions, Storage, StorageProperties } from '../../storage/storage.js';

/**
 * A job's import as the service keeps it (route 8 of the issue-6 contract), in memory: only
 * content-named keys under data/, index/ and snapshots/ (PermanentError otherwise, as a 400), bytes
 * checked against the name (IntegrityError, nothing stored, as a 422), and an existing key left as it
 * is. Records every save that reached it (`uploads`), to prove nothing is uploaded twice.
 */
export class FakeImportStorage implements Storage {
  readonly uploads: string[] = [];
  readonly inner = new MemoryStorage('memory:import');

  get properties(): StorageProperties {
    return this.inner.properties;
  }

  async save(key: string, data: Uint8Array | AsyncIterable<Uint8Array>, options?: SaveOptions): Promise<void> {
    this.uploads.push(key);
    const match = /^(?:data\/[0-9a-f]{2}\/|index\/|snapshots\/)([0-9a-f]{64})$/.exec(key);
    if (!match) throw new PermanentError(`${key} is not a content-named key under data/, index/ or snapshots/`);
    const chunks: Uint8Array[] = [];
    for await (const chunk of data instanceof Uint8Array ? [data] : data) chunks.push(chunk);
    const bytes = Buffer.concat(chunks);
    if (createHash('sha256').update(bytes).digest('hex') !== match[1]) throw new IntegrityError(`the bytes of ${key} do not match its name`);
    if (options?.length !== undefined && options.length !== bytes.length) throw new IntegrityError(`${key}: ${bytes.length} bytes, expected ${options.length}`);
    if (await this.has(key)) return;
    await this.inner.save(key, bytes);
  }

  /** As a service's import: the bytes are saved whole at commit. */
  begin(folder: string): Promise<ObjectWriter> {
    return beginGathered(this, folder);
  }

  load(key: string, range?: ByteRange): Promise<Buffer> {
    return this.inner.load(key, range);
  }

  stat(key: string): Promise<ObjectInfo> {
    return this.inner.stat(key);
  }

  list(prefix: string, onObject: (info: ObjectInfo) => void | Promise<void>): Promise<void> {
    return this.inner.list(prefix, onObject);
  }

  remove(key: string): Promise<void> {
    return this.inner.remove(key);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private async has(key: string): Promise<boolean> {
    try {
      await this.inner.stat(key);
      return true;
    } catch {
      return false;
    }
  }
}
