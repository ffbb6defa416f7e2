import { createHash, randomBytes } from 'node:crypto';
import { lstat, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_CHUNKER_PARAMS, FastCdc, chunkBuffer } from '../../engine/chunker/fastcdc.js';
import { gearTableFromSecret } from '../../engine/chunker/gear-table.js';
import { BlobCompressor } from '../../engine/compress/zstd.js';

export interface SampleEstimate {
  readonly files: number;
  readonly bytes: number;
  readonly sampledBytes: number;
  /** Stored bytes per source byte in the sample: zstd-3 per chunk, duplicate chunks counted once. */
  readonly storedRatio: number;
}

export interface SampleOptions {
  /** Bytes to read at most (default 64 MiB). */
  readonly budgetBytes?: number;
  /** Files to sample at most (default 256). */
  readonly maxFiles?: number;
  /** Random numbers in [0, 1) (tests pass a seeded one). */
  readonly random?: () => number;
}

interface Candidate {
  readonly path: string;
  readonly size: number;
  readonly key: number;
}

/**
 * Walks the sources (symlinks not followed, unreadable entries skipped) to count files and bytes, picks files
 * with a probability proportional to their size (weighted reservoir sampling, so every byte has the same
 * chance), reads a slice of each and measures what compression and deduplication leave, as a backup would
 * store it. Reads at most `budgetBytes`, however large the tree.
 */
export async function estimateStoredRatio(paths: readonly string[], options: SampleOptions = {}): Promise<SampleEstimate> {
  const budget = options.budgetBytes ?? 64 * 1024 * 1024;
  const maxFiles = options.maxFiles ?? 256;
  const random = options.random ?? Math.random;
  const reservoir: Candidate[] = [];
  let files = 0;
  let bytes = 0;
  const consider = (path: string, size: number): void => {
    files++;
    bytes += size;
    if (size === 0) return;
    const key = Math.pow(random(), 1 / size);
    if (reservoir.length < maxFiles) reservoir.push({ path, size, key });
    else {
      const smallest = reservoir.reduce((min, c, i) => (c.key < reservoir[min]!.key ? i : min), 0);
      if (key > reservoir[smallest]!.key) reservoir[smallest] = { path, size, key };
    }
  };
  const walk = async (path: string): Promise<void> => {
    const st = await lstat(path).catch(() => undefined);
    if (st?.isFile()) consider(path, st.size);
    else if (st?.isDirectory()) for (const name of await readdir(path).catch(() => [] as string[])) await walk(join(path, name));
  };
  for (const path of paths) await walk(path);

  const cdc = new FastCdc(DEFAULT_CHUNKER_PARAMS, gearTableFromSecret(randomBytes(32)));
  const compressor = new BlobCompressor();
  const seen = new Set<string>();
  const perFile = Math.max(64 * 1024, Math.floor(budget / Math.max(1, reservoir.length)));
  let sampledBytes = 0;
  let storedBytes = 0;
  for (const candidate of reservoir) {
    const length = Math.min(candidate.size, perFile);
    const start = Math.floor(random() * (candidate.size - length + 1));
    const data = await readSlice(candidate.path, start, length);
    if (!data) continue;
    sampledBytes += data.length;
    for (const [offset, size] of chunkBuffer(cdc, data)) {
      const chunk = data.subarray(offset, offset + size);
      const id = createHash('sha256').update(chunk).digest('hex');
      if (seen.has(id)) continue;
      seen.add(id);
      storedBytes += compressor.compress(chunk)?.length ?? chunk.length;
    }
  }
  return { files, bytes, sampledBytes, storedRatio: sampledBytes === 0 ? 1 : storedBytes / sampledBytes };
}

async function readSlice(path: string, start: number, length: number): Promise<Buffer | undefined> {
  try {
    const file = await open(path, 'r');
    try {
      const buffer = Buffer.allocUnsafe(length);
      const { bytesRead } = await file.read(buffer, 0, length, start);
      return buffer.subarray(0, bytesRead);
    } finally {
      await file.close();
    }
  } catch {
    return undefined;
  }
}
