import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { DIRECT_ALIGN } from '../os/direct-write.js';
import { optionalAddon } from '../os/native-addon.js';
import { MAX_FREE_BYTES, PlaintextBuffers, plaintextView, STEP } from './plaintext-buffers.js';

describe('plaintext buffers of ingest', () => {
  it('gives none for a file smaller than a step, and a new one rounded up to a step otherwise', () => {
    const buffers = new PlaintextBuffers();
    assert.equal(buffers.take(STEP - 1), undefined);
    assert.equal(buffers.take(STEP)!.byteLength, 2 * STEP, 'room for an aligned start');
    assert.equal(buffers.take(16 * STEP + 5)!.byteLength, 17 * STEP);
    assert.equal(buffers.take(17 * STEP - DIRECT_ALIGN + 1)!.byteLength, 18 * STEP);
  });

  it('places a plaintext at the first aligned byte of its buffer, with room for all of it', { skip: optionalAddon() === null && 'the native addon is not built' }, () => {
    const buffers = new PlaintextBuffers();
    const size = 16 * STEP + 12_345;
    const view = plaintextView(buffers.take(size)!, size);
    assert.equal(view.length, size);
    assert.equal(optionalAddon()!.alignmentOf(view), 0);
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

  it('ignores memory that is not its kind: not shared, or not a whole number of steps', () => {
    const buffers = new PlaintextBuffers();
    buffers.give(new ArrayBuffer(STEP));
    buffers.give(new SharedArrayBuffer(100));
    buffers.give(new SharedArrayBuffer(STEP + 1));
    assert.equal(buffers.held, 0);
  });

  it('hands out shared memory, and takes it back as another thread sees it (the same memory, another object)', async () => {
    const buffers = new PlaintextBuffers();
    const given = buffers.take(STEP)!;
    assert.ok(given instanceof SharedArrayBuffer);
    new Uint8Array(given)[0] = 42;
    const { port1, port2 } = new MessageChannel();
    const received = new Promise<SharedArrayBuffer>((resolve) => port2.once('message', resolve));
    port1.postMessage(given);
    const seen = await received;
    port1.close();
    assert.notEqual(seen, given);
    buffers.give(seen);
    const again = buffers.take(STEP)!;
    assert.equal(new Uint8Array(again)[0], 42);
  });

  it('keeps at most its limit free, dropping the largest first', () => {
    const buffers = new PlaintextBuffers();
    const huge = buffers.take(MAX_FREE_BYTES - STEP)!;
    const packs = Array.from({ length: 4 }, () => buffers.take(16 * STEP)!);
    for (const pack of packs) buffers.give(pack);
    buffers.give(huge);
    assert.equal(buffers.held, packs.reduce((sum, pack) => sum + pack.byteLength, 0));
    assert.notEqual(buffers.take(MAX_FREE_BYTES - STEP), huge);
  });
});
