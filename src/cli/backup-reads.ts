import { envInteger } from '../core/env-integer.js';

/**
 * The variable that sets how many files from a minimum chunk up a backup reads at once (1 to 16; the
 * archiver's default, one, when unset), e.g. to compare settings on one machine: each one more costs a
 * maximum chunk's read buffer (~10 MiB resident).
 */
export const LARGE_FILE_READS_VARIABLE = 'FERRY_LARGE_FILE_READS';

/** From {@link LARGE_FILE_READS_VARIABLE}; undefined (the archiver's default) when unset. */
export function largeFileReads(env: NodeJS.ProcessEnv): number | undefined {
  return envInteger(env, LARGE_FILE_READS_VARIABLE, { min: 1, max: 16, what: 'a number of files' });
}
