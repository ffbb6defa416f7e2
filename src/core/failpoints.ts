/**
 * Named crash points for tests. Code calls `failpoints.hit(name)` at each write step; normally nothing
 * happens. When armed (the CLI reads FERRY_FAILPOINT=name or name:N, crashing on the N-th hit), the
 * process dies on the spot as if killed, so tests can stop a run deterministically at every step.
 */
export interface Failpoints {
  hit(name: string): void;
}

export const noFailpoints: Failpoints = { hit: () => undefined };

/**
 * Parses `name` or `name:N`; `crash` normally kills the process (a test of interruptions may instead
 * signal it and return, and the failpoint then never fires again).
 */
export function armedFailpoints(spec: string | undefined, crash: (name: string) => void): Failpoints {
  if (!spec) return noFailpoints;
  const match = /^(.+?)(?::(\d+))?$/.exec(spec.trim());
  const name = match?.[1] ?? spec;
  let remaining = Number(match?.[2] ?? 1);
  return {
    hit(point: string): void {
      if (point === name && --remaining === 0) crash(point);
    },
  };
}
