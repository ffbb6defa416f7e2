import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runAgentLoop, type AgentLoopDeps, type LoopSchedule } from './agent-loop.js';
import { parseDailyTime } from './daily-schedule.js';

const HOUR = 3600_000;
const at = (day: number, hour: number, minute = 0): number => new Date(2026, 10, day, hour, minute).getTime();

/** A loop world with a fake clock: sleeping moves time forward; the test ends the loop at `until`. */
function world(start: number, until: number, schedule: LoopSchedule | undefined, lastSlot?: number) {
  let now = start;
  const runs: number[] = [];
  const logs: string[] = [];
  const controller = new AbortController();
  let saved = lastSlot;
  const deps: AgentLoopDeps = {
    clock: { now: () => now },
    sleep: async (ms) => {
      assert.ok(ms > 0 && ms <= 60_000, `sleeps ${ms} ms`);
      now += ms;
      if (now >= until) controller.abort();
    },
    loadSchedule: async () => schedule,
    loadLastSlot: async () => saved,
    saveLastSlot: async (slot) => void (saved = slot),
    runSlot: async (slot) => {
      runs.push(slot);
      now += 10 * 60_000; // a backup takes ten minutes
    },
    log: (message) => logs.push(message),
  };
  return { deps, runs, logs, controller, lastSlot: () => saved, setRunSlot: (f: AgentLoopDeps['runSlot']) => ((deps as { runSlot: AgentLoopDeps['runSlot'] }).runSlot = f) };
}

const daily = parseDailyTime('02:30');

describe('runAgentLoop', () => {
  it('runs once a day at the slot time', async () => {
    const w = world(at(20, 12), at(23, 12), { daily, since: at(20, 12) });
    await runAgentLoop(w.deps, w.controller.signal);
    assert.deepEqual(w.runs, [at(21, 2, 30), at(22, 2, 30), at(23, 2, 30)]);
  });

  it('catches up a missed slot once at start, then keeps the schedule', async () => {
    const w = world(at(25, 9), at(26, 12), { daily, since: at(1, 0) }, at(22, 2, 30));
    await runAgentLoop(w.deps, w.controller.signal);
    assert.deepEqual(w.runs, [at(25, 2, 30), at(26, 2, 30)]);
  });

  it('counts a failed run as run and logs it, so it does not retry in a loop', async () => {
    const w = world(at(25, 9), at(25, 20), { daily, since: at(1, 0) }, at(24, 2, 30));
    w.setRunSlot(async () => { throw new Error('source gone'); });
    await runAgentLoop(w.deps, w.controller.signal);
    assert.equal(w.lastSlot(), at(25, 2, 30));
    assert.equal(w.logs.length, 1);
    assert.match(w.logs[0]!, /failed: source gone/);
  });

  it('an interrupted run leaves its slot due for the next start', async () => {
    const w = world(at(25, 9), at(26, 9), { daily, since: at(1, 0) }, at(24, 2, 30));
    w.setRunSlot(async () => w.controller.abort());
    await runAgentLoop(w.deps, w.controller.signal);
    assert.equal(w.lastSlot(), at(24, 2, 30));
  });

  it('waits without running while no schedule is set', async () => {
    const w = world(at(25, 9), at(25, 9) + 5 * HOUR, undefined);
    await runAgentLoop(w.deps, w.controller.signal);
    assert.deepEqual(w.runs, []);
  });
});
