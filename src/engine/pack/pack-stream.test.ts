import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { DEFAULT_STREAM_OVERFLOW_BYTES, DEFAULT_STREAM_RING_BYTES } from '../repository/encoder-pool.js';
import { PackStream, type PackStreamOut } from './pack-stream.js';

const MiB = 1024 * 1024;
const ignore: PackStreamOut = { range: () => undefined, sealed: () => undefined };
const streamOf = (ringBytes: number, overflow: number): PackStream => new PackStream(randomBytes(32), 16 * MiB, new Uint8Array(ringBytes + overflow), ringBytes, ignore);

describe('PackStream', () => {
  it('takes the encoder pool\'s default ring and overflow', () => {
    assert.ok(streamOf(DEFAULT_STREAM_RING_BYTES, DEFAULT_STREAM_OVERFLOW_BYTES).hasRoomFor(DEFAULT_STREAM_OVERFLOW_BYTES));
  });

  it('refuses a ring too small for the largest blob sealed in place, where a worker would wait for room forever', () => {
    assert.throws(() => streamOf(2 * MiB, DEFAULT_STREAM_OVERFLOW_BYTES), /a pack stream ring of 2097152 bytes is too small for its 2162688-byte overflow/);
    assert.throws(() => streamOf(2 * MiB + 1, 0), /whole blocks/);
  });
});
