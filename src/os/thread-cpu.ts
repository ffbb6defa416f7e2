import { readFileSync } from 'node:fs';

/** Linux reports a thread's times in clock ticks of 1/100 s (USER_HZ, the same on every architecture). */
const MS_PER_TICK = 10;

/**
 * CPU time (user + system) the calling thread has used, in milliseconds (10 ms resolution), from
 * `/proc/thread-self/stat`; undefined where there is no such file (not Linux). Node 20 has no per-thread
 * CPU clock of its own (`process.cpuUsage` counts every thread). A read costs ~10–20 µs: call it seldom.
 */
export function threadCpuMs(): number | undefined {
  let stat: string;
  try {
    stat = readFileSync('/proc/thread-self/stat', 'latin1');
  } catch {
    return undefined;
  }
  // Fields after the command name (which may hold spaces and parentheses): state is the 3rd, utime the 14th, stime the 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? ticks * MS_PER_TICK : undefined;
}
