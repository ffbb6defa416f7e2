import { open, type FileHandle } from 'node:fs/promises';

/** An open file and its size when it was opened (objects are never changed in place: a save replaces the file). */
export interface OpenFile {
  readonly handle: FileHandle;
  readonly size: number;
}

interface Entry {
  readonly handle: Promise<OpenFile>;
  users: number;
  evicted: boolean;
}

/**
 * Keeps the most recently used files open for ranged reads, so reading many blobs of one pack costs
 * one open instead of one per blob. A handle keeps reading the file it opened even if the object is
 * replaced or removed meanwhile; FsStorage drops the entry whenever it saves or removes that key, so
 * later reads see the new state. Handles in use are closed only once their last reader is done.
 * The size comes from one `fstat` at open: a ranged read needs no `fstat` of its own (a thread-pool
 * round trip each), since the file a handle reads never changes (saves write a new file and rename it).
 */
export class ReadHandleCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly capacity: number) {}

  async use<T>(path: string, read: (file: OpenFile) => Promise<T>): Promise<T> {
    let entry = this.entries.get(path);
    if (entry) {
      this.entries.delete(path);
    } else {
      entry = { handle: openWithSize(path), users: 0, evicted: false };
    }
    this.entries.set(path, entry);
    this.evictBeyondCapacity();
    entry.users++;
    try {
      return await read(await entry.handle);
    } catch (err) {
      this.invalidate(path);
      throw err;
    } finally {
      entry.users--;
      if (entry.evicted && entry.users === 0) closeQuietly(entry);
    }
  }

  /** Forgets the file at `path` (after it was replaced or removed). */
  invalidate(path: string): void {
    const entry = this.entries.get(path);
    if (!entry) return;
    this.entries.delete(path);
    this.evict(entry);
  }

  /** Closes every handle (those in use once their readers are done). */
  clear(): void {
    for (const entry of this.entries.values()) this.evict(entry);
    this.entries.clear();
  }

  private evictBeyondCapacity(): void {
    for (const [path, entry] of this.entries) {
      if (this.entries.size <= this.capacity) return;
      this.entries.delete(path);
      this.evict(entry);
    }
  }

  private evict(entry: Entry): void {
    entry.evicted = true;
    if (entry.users === 0) closeQuietly(entry);
  }
}

async function openWithSize(path: string): Promise<OpenFile> {
  const handle = await open(path, 'r');
  try {
    return { handle, size: (await handle.stat()).size };
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err;
  }
}

function closeQuietly(entry: Entry): void {
  // A handle that failed to open has nothing to close; closing a read-only file cannot lose data.
  entry.handle.then((file) => file.handle.close()).catch(() => undefined);
}
