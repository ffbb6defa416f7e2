import { randomBytes } from 'node:crypto';
import { IntegrityError } from '../../core/errors.js';
import { DEFAULT_CHUNKER_PARAMS, validateChunkerParams, type ChunkerParams } from '../chunker/fastcdc.js';
import { DEFAULT_COMPRESSION_LEVEL } from '../compress/zstd.js';

export const REPOSITORY_VERSION = 1;
export const DEFAULT_PACK_SIZE = 16 * 1024 * 1024;

/** The repository's `config` object (sealed with the master key): fixed at init, shared by replicas. */
export interface RepositoryConfig {
  readonly version: number;
  /** Random 32-byte id (hex) that tells repositories apart. */
  readonly id: string;
  readonly chunker: ChunkerParams;
  /**
   * Smaller chunks for files of at least `minFileSize` bytes (databases and disk images, rewritten in small
   * pages, would otherwise re-upload a whole ~1.5 MiB chunk per page). Absent in repositories made before it.
   */
  readonly largeFiles?: LargeFileChunking;
  readonly compressionLevel: number;
  /** Target size of a pack in bytes. */
  readonly packSize: number;
}

/** The chunker used instead of `chunker` for files of at least `minFileSize` bytes. */
export interface LargeFileChunking {
  readonly minFileSize: number;
  readonly chunker: ChunkerParams;
}

/** New repositories: files from 32 MiB are cut at 128 KiB / 256 KiB / 2 MiB (measured in docs/PERFORMANCE.md). */
export const DEFAULT_LARGE_FILE_CHUNKING: Readonly<LargeFileChunking> = Object.freeze({
  minFileSize: 32 * 1024 * 1024,
  chunker: Object.freeze({ minSize: 128 * 1024, avgSize: 256 * 1024, maxSize: 2 * 1024 * 1024 }),
});

export interface ConfigOptions {
  readonly chunker?: ChunkerParams;
  /** `null` turns large-file chunking off (every file uses `chunker`). */
  readonly largeFiles?: LargeFileChunking | null;
  readonly compressionLevel?: number;
  readonly packSize?: number;
}

export function newConfig(options: ConfigOptions = {}): RepositoryConfig {
  const config: RepositoryConfig = {
    version: REPOSITORY_VERSION,
    id: randomBytes(32).toString('hex'),
    chunker: options.chunker ?? DEFAULT_CHUNKER_PARAMS,
    ...(options.largeFiles === null ? {} : { largeFiles: options.largeFiles ?? DEFAULT_LARGE_FILE_CHUNKING }),
    compressionLevel: options.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL,
    packSize: options.packSize ?? DEFAULT_PACK_SIZE,
  };
  return validateConfig(config);
}

export function validateConfig(value: unknown): RepositoryConfig {
  const config = value as RepositoryConfig;
  if (typeof config !== 'object' || config === null || config.version !== REPOSITORY_VERSION) {
    throw new IntegrityError(`repository format version ${String(config?.version)} is not supported by this ferry (expects ${REPOSITORY_VERSION})`);
  }
  try {
    validateChunkerParams(config.chunker);
    if (config.largeFiles !== undefined) {
      validateChunkerParams(config.largeFiles.chunker);
      const { minFileSize } = config.largeFiles;
      if (!Number.isSafeInteger(minFileSize) || minFileSize < 1) {
        throw new RangeError(`large-file chunking must start at a positive file size, got ${minFileSize}`);
      }
    }
  } catch (cause) {
    throw new IntegrityError('repository config has invalid chunker parameters', { cause });
  }
  const ok =
    typeof config.id === 'string' && /^[0-9a-f]{64}$/.test(config.id) &&
    Number.isInteger(config.compressionLevel) && config.compressionLevel >= 1 && config.compressionLevel <= 19 &&
    Number.isInteger(config.packSize) && config.packSize >= 64 * 1024 && config.packSize <= 512 * 1024 * 1024;
  if (!ok) throw new IntegrityError('repository config is malformed');
  return config;
}
