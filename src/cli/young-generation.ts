import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { UserError } from '../core/errors.js';

/** The variable that caps the main thread's young generation, in MiB (see {@link youngGenerationCap}). */
export const YOUNG_GENERATION_VARIABLE = 'FERRY_YOUNG_GENERATION_MIB';

/**
 * The commands whose young generation is capped by default: the backup, where it was measured (no CPU
 * difference beyond noise, docs/PERFORMANCE.md). A restore on a busy machine took more CPU in 6 of 8
 * pairs of runs with the cap (the flag is per process: its file writers' young generations stop growing
 * too), too noisy to tell; it and the other commands keep V8's own sizing unless told.
 */
const CAPPED_COMMANDS: ReadonlySet<string> = new Set(['backup']);

/**
 * Two semi-spaces of 4 MiB. V8 doubles the young generation (from 2 MiB, up to two 16 MiB semi-spaces)
 * each time the objects surviving its scavenges add up to its size, so a backup's main thread reaches the
 * full 32 MiB within seconds, all of it resident, though a scavenge leaves ~1–3 MB alive. At 8 MiB it
 * scavenges about as often as it did on the way up (docs/PERFORMANCE.md, "the main thread's memory").
 */
const DEFAULT_CAP_MIB = 8;

/**
 * The young generation's cap in bytes for the command `command` (its first word), or undefined for V8's
 * own sizing: {@link DEFAULT_CAP_MIB} for `ferry backup`; {@link YOUNG_GENERATION_VARIABLE} sets it for any
 * command (0: V8's own sizing).
 */
export function youngGenerationCap(command: string | undefined, env: NodeJS.ProcessEnv): number | undefined {
  const raw = env[YOUNG_GENERATION_VARIABLE];
  if (raw === undefined || raw === '') return command !== undefined && CAPPED_COMMANDS.has(command) ? DEFAULT_CAP_MIB * 1024 * 1024 : undefined;
  const mib = Number(raw);
  if (!/^[0-9]+$/.test(raw) || mib > 1024) {
    throw new UserError(`${YOUNG_GENERATION_VARIABLE}=${raw} is not a size in MiB: set it to a whole number (0 leaves the young generation to V8), or unset it`);
  }
  return mib === 0 ? undefined : mib * 1024 * 1024;
}

/** The main isolate's young generation now (both semi-spaces), in bytes. */
export function youngGenerationBytes(): number {
  return getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0;
}

/**
 * Stops the young generation from growing once it holds `maxBytes` (or more: a growth is a doubling).
 * Its maximum can only be set when the isolate starts (`--max-semi-space-size`, which `node bin/ferry`
 * does not get), but V8 reads its growth factor each time it grows it, so once the size is reached the
 * factor is set to 1. Each new isolate's heap configuration sets the factor back to V8's default (2),
 * process-wide: so it is set again after every collection, when a worker thread is created and once it is
 * online. A collection of the main thread between a worker's isolate being made and its `online` event
 * may still double the young generation once (an encoder worker's start, twice in a full backup at most);
 * closing that window would take the worker's cooperation. A test checks that this Node honours the cap,
 * across a worker's start.
 */
export function capYoungGeneration(maxBytes: number): void {
  const hold = (): void => {
    if (youngGenerationBytes() >= maxBytes) setFlagsFromString('--semi-space-growth-factor=1');
  };
  new PerformanceObserver(hold).observe({ entryTypes: ['gc'] });
  process.on('worker', (worker) => {
    hold();
    worker.once('online', hold);
  });
  hold();
}
