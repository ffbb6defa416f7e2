import { UserError } from '../core/errors.js';

/** The variable that sets a backup's encoder worker threads (1 to 64), e.g. to compare settings on one machine. */
export const ENCODER_WORKERS_VARIABLE = 'FERRY_ENCODER_WORKERS';

/**
 * How many encoder worker threads a backup starts: one per core beside the main thread, at least one.
 * The main thread reads and chunks all the time, so on 2 cores one worker (hashing, compressing, sealing)
 * fills the second core; a second worker only shares that core and costs ~60 MiB (its isolate, ring,
 * pack buffers and zstd context). {@link ENCODER_WORKERS_VARIABLE} overrides the count.
 */
export function encoderWorkers(env: NodeJS.ProcessEnv, cores: number): number {
  const raw = env[ENCODER_WORKERS_VARIABLE];
  if (raw === undefined || raw === '') return Math.max(1, cores - 1);
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw) || n < 1 || n > 64) throw new UserError(`${ENCODER_WORKERS_VARIABLE}=${raw} is not a number of encoder workers: set it to a whole number from 1 to 64, or unset it`);
  return n;
}
