import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ByteBudget } from './byte-budget.js';

const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ByteBudget', () => {
  it('lets takes run while they fit, then serves waiters in order as bytes come back', async () => {
    const budget = new ByteBudget(10);
    const giveSix = await budget.take(6);
    const order: string[] = [];
    const big = budget.take(8).then(() => order.push('big'));
    const small = budget.take(1).then(() => order.push('small')); // fits now, but waits behind the larger one
    await settled();
    assert.deepEqual(order, []);
    assert.equal(budget.inUse, 6);
    giveSix();
    await Promise.all([big, small]);
    assert.deepEqual(order, ['big', 'small']);
    assert.equal(budget.inUse, 9);
  });

  it('runs a take larger than the whole budget alone, and takeNow goes beyond the limit without waiting', async () => {
    const budget = new ByteBudget(4);
    const giveHundred = await budget.take(100);
    let next = false;
    const after = budget.take(1).then(() => (next = true));
    await settled();
    assert.equal(next, false);
    const giveFour = budget.takeNow(4);
    assert.equal(budget.inUse, 104);
    giveHundred();
    await settled();
    assert.equal(next, false, '4 + 1 is over the limit of 4');
    assert.equal(budget.inUse, 4);
    giveFour();
    await after;
    assert.equal(budget.inUse, 1);
  });

  it('refuses a limit that is not positive', () => {
    assert.throws(() => new ByteBudget(0), RangeError);
  });
});
