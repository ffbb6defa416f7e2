import type { Clock } from '../core/clock.js';
import { dueSlot, nextSlot, type DailyTime } from './daily-schedule.js';

/** What the loop needs to know of the schedule; read again before every decision, so edits apply at once. */
export interface LoopSchedule {
  readonly daily: DailyTime;
  /** When the schedule was set (epoch ms): slots before it are never run. */
  readonly since: number;
}

export interface AgentLoopDeps {
  readonly clock: Clock;
  /** Resolves after `ms` or when `signal` aborts, whichever comes first; never rejects. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /** The current schedule, or undefined when none is set (the loop then only waits). */
  loadSchedule(): Promise<LoopSchedule | undefined>;
  /** The last slot a run was made for (epoch ms). */
  loadLastSlot(): Promise<number | undefined>;
  saveLastSlot(slot: number): Promise<void>;
  /**
   * Runs the backup (and retention) for `slot` and reports it. Its failures are its own to report:
   * a rejection is logged and the slot still counts as run, so a broken source does not retry in a loop.
   */
  runSlot(slot: number, signal: AbortSignal): Promise<void>;
  log(message: string): void;
}

/** Longest single wait: the schedule file is re-read and clock jumps (suspend, NTP) are noticed this often. */
export const MAX_WAIT_MS = 60_000;

/**
 * The agent's main loop: runs every due slot once (a slot missed while the agent was down is caught up
 * once at start), then sleeps until the next one. Returns when `signal` aborts, after the run in
 * progress has stopped (the run gets the same signal and must end promptly and cleanly).
 */
export async function runAgentLoop(deps: AgentLoopDeps, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    const schedule = await deps.loadSchedule();
    const now = deps.clock.now();
    if (schedule === undefined) {
      await deps.sleep(MAX_WAIT_MS, signal);
      continue;
    }
    const slot = dueSlot(now, schedule.daily, schedule.since, await deps.loadLastSlot());
    if (slot === undefined) {
      await deps.sleep(Math.min(MAX_WAIT_MS, Math.max(1, nextSlot(now, schedule.daily) - now)), signal);
      continue;
    }
    try {
      await deps.runSlot(slot, signal);
    } catch (err) {
      deps.log(`scheduled backup for ${new Date(slot).toISOString()} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (signal.aborted) return; // an interrupted run is not a run: the slot stays due for the next start
    await deps.saveLastSlot(slot);
  }
}

/** A real abortable sleep. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
