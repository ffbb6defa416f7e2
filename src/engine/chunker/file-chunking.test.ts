import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { chunkBuffer } from './fastcdc.js';
import { FileChunking } from './file-chunking.js';
import { gearTableFromSecret } from './gear-table.js';

const NORMAL = { minSize: 4096, avgSize: 16384, maxSize: 65536 };
const LARGE = { minSize: 512, avgSize: 2048, maxSize: 8192 };
const gear = gearTableFromSecret(Buffer.alloc(32, 1));

function meanChunk(chunking: FileChunking, data: Buffer): number {
  const lengths = [...chunkBuffer(chunking.forFileSize(data.length), data)].map(([, length]) => length);
  return data.length / lengths.length;
}

describe('FileChunking', () => {
  it('cuts files from minFileSize on with the large-file parameters', () => {
    const chunking = new FileChunking(NORMAL, gear, { minFileSize: 1 << 20, chunker: LARGE });
    assert.equal(chunking.forFileSize((1 << 20) - 1).avgSize, NORMAL.avgSize);
    assert.equal(chunking.forFileSize(1 << 20).avgSize, LARGE.avgSize);
    const data = randomBytes(1 << 20);
    assert.ok(meanChunk(chunking, data) < 4 * LARGE.avgSize, 'large files get small chunks');
    assert.ok(meanChunk(chunking, data.subarray(1)) > NORMAL.minSize, 'smaller files keep the normal chunks');
  });

  it('uses one parameter set for every size without large-file chunking', () => {
    const chunking = new FileChunking(NORMAL, gear);
    assert.equal(chunking.forFileSize(Number.MAX_SAFE_INTEGER).avgSize, NORMAL.avgSize);
  });

  it('shares the gear table, so the large chunker finds the same cuts as a chunker of its own', () => {
    const data = randomBytes(256 * 1024);
    const own = new FileChunking(LARGE, gear);
    const large = new FileChunking(NORMAL, gear, { minFileSize: 1, chunker: LARGE });
    assert.deepEqual([...chunkBuffer(large.forFileSize(1), data)], [...chunkBuffer(own.forFileSize(1), data)]);
  });
});
