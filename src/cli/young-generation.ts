import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { envInteger } from '../core/env-integer.js';

/** The variable that caps the main thread's young generation, in MiB (see {@link youngGenerationCap}). */
export const YOUNG_GENERATION_VARIABLE = 'FERRY_YOUNG_GENERATION_MIB';

/**
 * The young generation's default cap (both semi-spaces), in MiB, of the commands that have one: the backup
 * (docs/PERFORMANCE.md, "the main thread's memory": no CPU difference beyond noise), the restore (with
 * two file writers and 128 files in flight, its peak RSS 163–164 MiB with 16 MiB, 150 with 8, the same
 * time and CPU; docs/PERFORMANCE.md, "The lead's second morning") and `ferry serve`, whose young
 * generation otherwise stays at 32 MiB once uploads grew it, now that its full collections no longer
 * shrink it (cli/gc-marking.ts; measured: service peak RSS ~196 → ~162 MiB over two scale-1 ingests, same
 * CPU). The other commands keep V8's own sizing unless told. Why a cap at all: V8
 * doubles the young generation (from 2 MiB, up to two 16 MiB semi-spaces) each time the objects surviving
 * its scavenges add up to its size, so a long command's main thread reaches the full 32 MiB within seconds,
 * all of it resident, though a scavenge leaves ~1–3 MB alive.
 */
const DEFAULT_CAP_MIB: ReadonlyMap<string, number> = new Map([
  ['backup', 8],
  ['restore', 8],
  ['serve', 8],
]);

/**
 * The young generation's cap in bytes for the command `command` (its first word), or undefined for V8's
 * own sizing: {@link DEFAULT_CAP_MIB}'s; {@link YOUNG_GENERATION_VARIABLE} sets it for any command (0: V8's
 * own sizing).
 */
export function youngGenerationCap(command: string | undefined, env: NodeJS.ProcessEnv): number | undefined {
  const set = envInteger(env, YOUNG_GENERATION_VARIABLE, { min: 0, max: 1024, what: 'a size in MiB', minMeans: 'leave the young generation to V8' });
  const mib = set ?? (command === undefined ? undefined : DEFAULT_CAP_MIB.get(command));
  return mib === undefined || mib === 0 ? undefined : mib * 1024 * 1024;
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
