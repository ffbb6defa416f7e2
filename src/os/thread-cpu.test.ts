import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { threadCpuMs } from './thread-cpu.js';

describe('threadCpuMs', () => {
  it("counts the calling thread's CPU time, not the time it waits", { skip: !existsSync('/proc/thread-self/stat') && 'no /proc (not Linux)' }, async () => {
    const before = threadCpuMs()!;
    const processBefore = process.cpuUsage();
    const deadline = performance.now() + 20_000;
    // Spin until 100 ms of CPU were counted (however busy the machine is), then compare with the process's own count.
    while (threadCpuMs()! - before < 100) assert.ok(performance.now() < deadline, 'the thread spun for 20 s and no CPU time was counted');
    const spun = threadCpuMs()! - before;
    const processSpent = process.cpuUsage(processBefore);
    assert.ok(spun <= (processSpent.user + processSpent.system) / 1000 + 20, `the thread counted ${spun} ms, more than the whole process`);
    const idle = threadCpuMs()!;
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(threadCpuMs()! - idle <= 50, 'waiting 300 ms counts next to nothing');
  });
});
