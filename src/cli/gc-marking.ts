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

/**
 * How a command marks: atomic, every command, `ferry serve` included; {@link GC_MARKING_VARIABLE} (`atomic`
 * or `incremental`) overrides it.
 *
 * Why atomic: V8 starts incremental marking as soon as the old generation's headroom (its limit minus its
 * size) is below the young generation's capacity, up to two 16 MiB semi-spaces. The CLI's own heap (its
 * code, module sources, object shapes) is ~7–8 MB, and V8 gives it a headroom of ~8 MB, so every 1–2 MB
 * reaching the old generation started a full collection that freed just that: a scale-0.2 full backup ran
 * 10–12 of them (~60 at scale 1, ~40 ms of marking each). Atomic marking waits for the old generation's
 * limit (the live size plus 8 MB and more): 1–3 in that backup, half the collector's CPU, the same peak RSS
 * (docs/PERFORMANCE.md). A heap of a few tens of MB marks in a pause of 10–20 ms, which a batch command
 * does not notice.
 *
 * `ferry serve` too: its heap (~34 MB live) gets a headroom of 8–30 MB, and while it receives uploads its
 * young generation grows to its full 32 MiB, so after a few hundred MB received every full collection was
 * followed by the next (35–45 per GB ingested, each marking the whole heap and freeing ~0.3 MB): half of
 * the service's CPU (docs/PERFORMANCE.md, "The trip's copies, fifth round"). Atomic: 0–1 per GB. The
 * pauses are no longer: incremental marking's own final pauses there were 54 ms (median) up to 455 ms.
 */
export function gcMarkingFor(env: NodeJS.ProcessEnv): GcMarking {
  return envChoice(env, GC_MARKING_VARIABLE, ['atomic', 'incremental'], 'a way of marking') ?? 'atomic';
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
