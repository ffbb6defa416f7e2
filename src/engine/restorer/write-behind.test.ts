import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WriteBehindRing } from './write-behind.js';

describe('WriteBehindRing', () => {
  it('hands out regions in order, wraps to the start, and reuses room only once every older region is free', () => {
    const ring = new WriteBehindRing(100);
    const a = ring.take(40)!;
    const b = ring.take(40)!;
    assert.deepEqual([a.start, a.end, b.start, b.end], [0, 40, 40, 80]);
    assert.equal(ring.take(30), undefined, 'no room after b, none before a');
    ring.release(b);
    assert.equal(ring.take(30), undefined, "b's room waits for a, which is older");
    ring.release(a);
    assert.ok(ring.empty);
    const c = ring.take(70)!;
    assert.equal(c.start, 0, 'an empty ring starts over');
    const d = ring.take(30)!;
    assert.deepEqual([d.start, d.end], [70, 100]);
    ring.release(c);
    const e = ring.take(50)!;
    assert.deepEqual([e.start, e.end], [0, 50], 'wrapped: before the oldest live region');
    assert.equal(ring.take(30), undefined, 'wrapped: only 20 bytes between e and d');
    const f = ring.take(20)!;
    assert.deepEqual([f.start, f.end], [50, 70]);
    assert.equal(ring.take(101), undefined, 'larger than the ring');
  });

  it('keeps a region until its last reference goes, and wakes a waiter when room comes back', async () => {
    const ring = new WriteBehindRing(64);
    const a = ring.take(64)!;
    a.refs += 2;
    let woken = false;
    const waiting = ring.roomFreed().then(() => (woken = true));
    ring.release(a);
    ring.release(a);
    await Promise.resolve();
    assert.equal(woken, false);
    assert.equal(ring.take(1), undefined);
    ring.release(a);
    await waiting;
    assert.ok(ring.empty);
    assert.deepEqual(ring.take(64)!.start, 0);
  });
});
