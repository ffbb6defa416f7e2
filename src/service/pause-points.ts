import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * TEST-ONLY fault injection: lets an end-to-end test stop a `ferry serve` process at a named point of its
 * background work and SIGKILL it there (test/e2e/instances.test.ts). Inert unless the environment names a
 * point; never set these variables in a deployment.
 *
 * With FERRY_TEST_PAUSE_AT=POINT and FERRY_TEST_PAUSE_DIR=DIR, the first time the process reaches POINT it
 * writes DIR/POINT.reached (its PID) and waits until DIR/POINT.go exists, then carries on; later passes
 * through POINT do not wait. The variables are read in one place: {@link pauserFromEnv}, called by serve.ts.
 */

/** The points where background work can be paused. */
export const PAUSE_POINTS = [
  /** The sweep changed one job (committed) and has more to look at. */
  'sweep-job-changed',
  /** The adoption worker copied one object into the vault (committed) and has more to copy. */
  'adoption-object-copied',
] as const;
export type PausePoint = (typeof PAUSE_POINTS)[number];

/** Waits at `point` when the test asked for it; resolves at once otherwise. */
export type Pauser = (point: PausePoint) => Promise<void>;

export const PAUSE_AT_ENV = 'FERRY_TEST_PAUSE_AT';
export const PAUSE_DIR_ENV = 'FERRY_TEST_PAUSE_DIR';

/** The pauser the environment asks for, or undefined (the normal case). Throws when it names an unknown point. */
export function pauserFromEnv(env: NodeJS.ProcessEnv): Pauser | undefined {
  const at = env[PAUSE_AT_ENV];
  const dir = env[PAUSE_DIR_ENV];
  if (!at || !dir) return undefined;
  if (!(PAUSE_POINTS as readonly string[]).includes(at)) throw new Error(`${PAUSE_AT_ENV}=${at} names no pause point (${PAUSE_POINTS.join(', ')})`);
  let passed = false;
  return async (point) => {
    if (point !== at || passed) return;
    passed = true;
    await writeFile(join(dir, `${point}.reached`), `${process.pid}\n`);
    for (;;) {
      try {
        await access(join(dir, `${point}.go`));
        return;
      } catch {
        await sleep(20);
      }
    }
  };
}
