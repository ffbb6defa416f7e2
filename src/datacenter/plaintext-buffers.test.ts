import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_FREE_BYTES, PlaintextBuffers, STEP } from './plaintext-buffers.js';

describe('plaintext buffers of ingest', () => {
  it('gives none for a file smaller than a step, and a new one rounded up to a step otherwise', () => {
    const buffers = new PlaintextBuffers();
    assert.equal(buffers.take(STEP - 1), undefined);
    assert.equal(buffers.take(STEP)!.byteLength, STEP);
    assert.equal(buffers.take(16 * STEP + 5)!.byteLength, 17 * STEP);
  });

  it('reuses a buffer given back, the smallest that fits, and never hands one out twice', () => {
    const buffers = new PlaintextBuffers();
    const big = buffers.take(20 * STEP)!;
    const small = buffers.take(16 * STEP + 1)!;
    buffers.give(big);
    buffers.give(small);
    buffers.give(small);
    assert.equal(buffers.held, big.byteLength + small.byteLength);
    assert.equal(buffers.take(16 * STEP + 100), small);
    assert.equal(buffers.take(16 * STEP + 100), big);
    assert.notEqual(buffers.take(16 * STEP + 100), big);
    assert.equal(buffers.held, 0);
  });

  it('ignores memory it did not hand out or that was moved away', () => {
    const buffers = new PlaintextBuffers();
    buffers.give(new ArrayBuffer(100));
    buffers.give(new ArrayBuffer(STEP + 1));
    const moved = buffers.take(STEP)!;
    structuredClone(moved, { transfer: [moved] });
    buffers.give(moved);
    assert.equal(buffers.held, 0);
  });

  it('keeps at most its limit free, dropping the largest first', () => {
    const buffers = new PlaintextBuffers();
    const huge = buffers.take(MAX_FREE_BYTES)!;
    const packs = Array.from({ length: 4 }, () => buffers.take(16 * STEP)!);
    for (const pack of packs) buffers.give(pack);
    buffers.give(huge);
    assert.equal(buffers.held, 4 * 16 * STEP);
    assert.notEqual(buffers.take(MAX_FREE_BYTES), huge);
  });
});
