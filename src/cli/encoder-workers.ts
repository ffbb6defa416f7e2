import { envInteger } from '../core/env-integer.js';

/** The variable that sets a backup's encoder worker threads (1 to 64), e.g. to compare settings on one machine. */
export const ENCODER_WORKERS_VARIABLE = 'FERRY_ENCODER_WORKERS';

/**
 * The variable that sets how long (milliseconds, in all) a backup's reads wait for the running encoder
 * workers before the next one starts; 0 starts them all at once.
 */
export const ENCODER_STALL_VARIABLE = 'FERRY_ENCODER_STALL_MS';

/**
 * How many encoder worker threads a backup may start (one at a time, see {@link ENCODER_STALL_VARIABLE}):
 * one per core, at least one. On the quiet 2-core bench machine (scale 1, caches dropped, medians of 3) two
 * workers took 15.2 s against 18.1 s for one, at the same CPU (23.8 CPU-s), and 284 against 210 MiB then;
 * each worker now costs ~25 MiB (its isolate ~10 MiB, its 4 MiB ring of blobs, its 6 MiB ring of data pack
 * bytes, its zstd context and scratch). {@link ENCODER_WORKERS_VARIABLE} overrides the count, e.g. 1 on a
 * machine short of memory.
 */
export function encoderWorkers(env: NodeJS.ProcessEnv, cores: number): number {
  return envInteger(env, ENCODER_WORKERS_VARIABLE, { min: 1, max: 64, what: 'a number of encoder workers' }) ?? Math.max(1, cores);
}

/**
 * From {@link ENCODER_STALL_VARIABLE}: how many milliseconds a backup's reads wait for the running encoder
 * workers before it starts the next one; undefined (the engine's default) when the variable is unset.
 */
export function encoderStall(env: NodeJS.ProcessEnv): number | undefined {
  return envInteger(env, ENCODER_STALL_VARIABLE, { min: 0, max: 600_000, what: 'a number of milliseconds', minMeans: 'start every encoder worker at once' });
}
