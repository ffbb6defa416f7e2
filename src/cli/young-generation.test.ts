import assert from 'node:assert/strict';
import { getHeapSpaceStatistics } from 'node:v8';
import { it } from 'node:test';
import { capYoungGeneration } from './young-generation.js';

const newSpace = (): number => getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')!.space_size;

// V8's flags are per process; node --test runs each test file in a process of its own.
it('keeps the young generation at the cap while objects keep surviving scavenges', async () => {
  const MiB = 1024 * 1024;
  const stop = capYoungGeneration(2 * MiB, 5);
  try {
    const kept: object[] = [];
    for (let round = 0; round < 200; round++) {
      for (let i = 0; i < 20_000; i++) {
        const o = { i, list: [i] };
        if (i % 3 === 0) kept.push(o);
        if (kept.length > 200_000) kept.length = 0;
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    // Uncapped, this grows to two 16 MiB semi-spaces (32 MiB); capped, two of 2 MiB.
    assert.ok(newSpace() <= 4 * MiB, `new space ${newSpace() / MiB} MiB`);
  } finally {
    stop();
  }
});
