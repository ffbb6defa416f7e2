import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { mapOrdered } from './ordered-map.js';

async function* numbers(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) yield i;
}

describe('mapOrdered', () => {
  it('yields the results in source order while work runs ahead, at most `window` at a time', async () => {
    let running = 0;
    let most = 0;
    const out: number[] = [];
    for await (const value of mapOrdered(numbers(20), 3, async (i) => {
      most = Math.max(most, ++running);
      await sleep((20 - i) % 4);
      running--;
      return i * 10;
    })) {
      out.push(value);
    }
    assert.deepEqual(out, Array.from({ length: 20 }, (_, i) => i * 10));
    assert.ok(most <= 4 && most >= 2, `in flight at most window + the one being taken: ${most}`);
  });

  it('a consumer that stops early waits for the work already started: nothing runs on behind its back', async () => {
    const finished: number[] = [];
    const iterate = async (): Promise<void> => {
      for await (const value of mapOrdered(numbers(10), 3, async (i) => {
        await sleep(i === 0 ? 1 : 30);
        finished.push(i);
        return i;
      })) {
        if (value === 0) throw new Error('stop');
      }
    };
    await assert.rejects(iterate(), /stop/);
    const atReturn = [...finished];
    await sleep(60);
    assert.deepEqual(finished, atReturn, 'no work finished after the generator returned');
    assert.ok(atReturn.length >= 2, `the items started were waited for: ${JSON.stringify(atReturn)}`);
  });

  it('a failing item throws when the consumer reaches it, after the items before it', async () => {
    const seen: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const value of mapOrdered(numbers(5), 2, async (i) => {
          if (i === 2) throw new Error('item 2 failed');
          return i;
        })) {
          seen.push(value);
        }
      })(),
      /item 2 failed/,
    );
    assert.deepEqual(seen, [0, 1]);
  });
});
