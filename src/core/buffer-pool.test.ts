import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BufferPool } from './buffer-pool.js';

describe('BufferPool', () => {
  it('hands back a given buffer for a request of its size class, and small requests are never pooled', () => {
    const pool = new BufferPool(4 * 1024 * 1024);
    const a = pool.take(100_000);
    assert.equal(a.length, 131_072);
    pool.give(a);
    assert.equal(pool.take(70_000), a, 'same class: reused');
    assert.notEqual(pool.take(70_000), a, 'taken: not handed out twice');
    const small = pool.take(1000);
    assert.equal(small.length, 1000);
  });

  it('keeps at most maxBytes idle and ignores buffers that are not its own size classes', () => {
    const pool = new BufferPool(256 * 1024);
    const [a, b, c] = [pool.take(128 * 1024), pool.take(128 * 1024), pool.take(128 * 1024)];
    pool.give(a);
    pool.give(b);
    pool.give(c); // over the limit: dropped
    pool.give(Buffer.alloc(100_000)); // not a size class
    const taken = new Set([pool.take(128 * 1024), pool.take(128 * 1024), pool.take(128 * 1024)]);
    assert.ok(taken.has(a) && taken.has(b) && !taken.has(c));
  });

  it('pools from minPooled up when asked, and says how long a buffer it gives', () => {
    const pool = new BufferPool(64 * 1024, undefined, 4096);
    const a = pool.take(5000);
    assert.equal(a.length, 8192);
    assert.equal(pool.lengthFor(5000), 8192);
    assert.equal(pool.lengthFor(100), 100);
    pool.give(a);
    assert.equal(pool.take(4097), a, 'reused below the default 64 KiB');
    assert.equal(new BufferPool(64 * 1024).lengthFor(5000), 5000, 'not pooled by default');
  });
});
