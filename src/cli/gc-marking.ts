import { setFlagsFromString } from 'node:v8';
import { envChoice } from '../core/env-integer.js';

/** The variable that chooses how V8 marks the heap for a full collection (see {@link gcMarkingFor}). */
export const GC_MARKING_VARIABLE = 'FERRY_GC_MARKING';

/**
 * `atomic`: a full collection marks the heap in one pause (on the main thread and V8's helper threads),
 * and starts only once the old generation reaches its limit. `incremental`: V8's default, marking in small
 * steps and concurrently, started early.
 */
export type GcMarking = 'atomic' | 'incremental';

/** Commands that serve requests for a long time: short pauses matter more there than CPU. */
const INCREMENTAL_COMMANDS: ReadonlySet<string> = new Set(['serve']);

/**
 * How the command `command` (its first word, e.g. `backup`, `datacenter`) marks: atomic, except for
 * `ferry serve`. {@link GC_MARKING_VARIABLE} (`atomic` or `incremental`) overrides it for any command.
 *
 * Why atomic: the CLI's own heap (its code, module sources, object shapes) is ~7–8 MB, just at the 8 MB
 * where V8 starts incremental marking, and V8 starts it as soon as the old generation's headroom is below
 * the young generation's capacity (two 16 MiB semi-spaces), which at that size it always is. So every 1–2 MB
 * reaching the old generation started a full collection that freed just that: a scale-0.2 full backup ran
 * 10–12 of them (~60 at scale 1, ~40 ms of marking each). Atomic marking waits for the old generation's
 * limit (the live size plus 8 MB and more): 1–3 in that backup, half the collector's CPU, the same peak RSS
 * (docs/PERFORMANCE.md). A heap of a few tens of MB marks in a pause of 10–20 ms, which a batch command
 * does not notice.
 */
export function gcMarkingFor(command: string | undefined, env: NodeJS.ProcessEnv): GcMarking {
  const set = envChoice(env, GC_MARKING_VARIABLE, ['atomic', 'incremental'], 'a way of marking');
  if (set !== undefined) return set;
  return command !== undefined && INCREMENTAL_COMMANDS.has(command) ? 'incremental' : 'atomic';
}

/**
 * Applies `marking` to this process: V8's flags are per process, so its worker threads' heaps too (the
 * encoder workers' rarely reach a full collection at all). V8 reads the setting each time it decides whether
 * to start marking, so it takes effect on a running heap (unlike the heap's sizes, which only command-line
 * flags set); a test checks that this Node honours it.
 */
export function applyGcMarking(marking: GcMarking): void {
  setFlagsFromString(marking === 'atomic' ? '--no-incremental-marking' : '--incremental-marking');
}
