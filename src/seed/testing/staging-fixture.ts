import { createCipheriv, createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Storage } from '../../storage/storage.js';

/** `length` reproducible bytes for `seed` (AES-256-CTR of zeros under a key hashed from the seed). */
export function seededBytes(seed: string, length: number): Buffer {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return cipher.update(Buffer.alloc(length));
}

/** The object key a repository gives these bytes in `folder` (content-named by SHA-256). */
export function contentKey(folder: 'data' | 'index' | 'snapshots', bytes: Uint8Array): string {
  const id = createHash('sha256').update(bytes).digest('hex');
  return folder === 'data' ? `data/${id.slice(0, 2)}/${id}` : `${folder}/${id}`;
}

export interface StagingFile {
  readonly path: string;
  readonly bytes: Buffer;
}

/**
 * Fills a storage like a staging repository: content-named files of the given sizes under data/,
 * index/ and snapshots/, plus the things diskprep must never copy (config, keys/, locks/).
 * Returns the carried files.
 */
export async function fillStaging(storage: Storage, sizes: { data: number[]; index?: number[]; snapshots?: number[] }, seed = 'staging'): Promise<StagingFile[]> {
  const files: StagingFile[] = [];
  const add = async (folder: 'data' | 'index' | 'snapshots', list: number[]): Promise<void> => {
    for (const [i, size] of list.entries()) {
      const bytes = seededBytes(`${seed}/${folder}/${i}`, size);
      const path = contentKey(folder, bytes);
      await storage.save(path, bytes);
      files.push({ path, bytes });
    }
  };
  await add('data', sizes.data);
  await add('index', sizes.index ?? [300]);
  await add('snapshots', sizes.snapshots ?? [200]);
  await storage.save('config', seededBytes(`${seed}/config`, 100));
  await storage.save(`keys/${'a'.repeat(64)}`, seededBytes(`${seed}/key`, 150));
  await storage.save(`locks/${'b'.repeat(64)}`, seededBytes(`${seed}/lock`, 50));
  return files.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** A temporary folder removed by `cleanup`. */
export async function tempFolder(prefix = 'ferry-seed-'): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}
