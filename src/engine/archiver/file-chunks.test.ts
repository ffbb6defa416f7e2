import assert from 'node:assert/strict';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chunkBuffer, FastCdc } from '../chunker/fastcdc.js';
import { gearTableFromSecret } from '../chunker/gear-table.js';
import { BufferPool } from '../../core/buffer-pool.js';
import { ByteBudget } from '../../core/byte-budget.js';
import { seededBytes } from '../testing/arbitraries.js';
import { readChunks } from './file-chunks.js';
import type { ChunkSource } from './source-file.js';

// Chunks of 64 KiB to 512 KiB, so the pool's buffers (64 KiB and up) are used as in a backup.
const cdc = new FastCdc({ minSize: 64 * 1024, avgSize: 128 * 1024, maxSize: 512 * 1024 }, gearTableFromSecret(Buffer.from('file chunks test')));

describe('readChunks', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-file-chunks-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('yields the chunks chunkBuffer cuts from the whole file, whatever size was expected', async () => {
    const pool = new BufferPool(4 * 1024 * 1024);
    // Random data and long runs of one byte (cut at maxSize only), small and large, expected right or wrong.
    const cases: { data: Buffer; expected: number }[] = [];
    for (const [seed, length] of [[1, 0], [2, 100], [3, 64 * 1024], [4, 700_000], [5, 3_000_000], [6, 512 * 1024]] as const) {
      const data = seededBytes(seed, length);
      cases.push({ data, expected: length }, { data, expected: Math.floor(length / 3) }, { data, expected: length + 5000 });
    }
    const runs = Buffer.concat([Buffer.alloc(1_500_000, 7), seededBytes(9, 300_000), Buffer.alloc(600_000, 1)]);
    cases.push({ data: runs, expected: runs.length }, { data: runs, expected: 10 });
    for (const [i, { data, expected }] of cases.entries()) {
      const path = join(dir, `f${i}`);
      await writeFile(path, data);
      const file = await open(path);
      const got: Buffer[] = [];
      const reads: number[] = [];
      let readAfterShort = false;
      // Records what the reads return: a short read ends the file, so no read follows one (a file
      // whose size was expected right takes one read when it fits in a maximum chunk).
      const counted: ChunkSource = {
        read: async (buffer, offset, length) => {
          readAfterShort ||= reads.some((r) => r < 0);
          const { bytesRead } = await file.read(buffer, offset, length, null);
          reads.push(bytesRead < length ? -bytesRead - 1 : bytesRead);
          return bytesRead;
        },
        close: () => file.close(),
      };
      try {
        // Copied at once: the generator reuses its buffer for the next chunk.
        for await (const chunk of readChunks(counted, cdc, expected, pool)) got.push(Buffer.from(chunk));
      } finally {
        await file.close();
      }
      assert.ok(!readAfterShort, `case ${i}: reads ${reads.join(', ')} (negative: short)`);
      if (expected === data.length && data.length < cdc.maxSize) assert.equal(reads.length, 1, `case ${i}: reads ${reads.join(', ')}`);
      const want = [...chunkBuffer(cdc, data)].map(([offset, length]) => data.subarray(offset, offset + length));
      assert.deepEqual(got.map((c) => c.length), want.map((c) => c.length), `case ${i}: ${data.length} bytes, ${expected} expected`);
      assert.ok(Buffer.concat(got).equals(data), `case ${i}: content`);
    }
  });

  it('holds no more buffer bytes than its budget across files read at once, and gives them all back', async () => {
    const pool = new BufferPool(0);
    const budget = new ByteBudget(1024 * 1024);
    let largest = 0;
    const sizes = [100, 70_000, 300_000, 400_000, 700_000, 2_000_000, 50_000, 500_000];
    for (const [i, size] of sizes.entries()) await writeFile(join(dir, `b${i}`), seededBytes(20 + i, size));
    const readOne = async (i: number): Promise<Buffer> => {
      const file = await open(join(dir, `b${i}`));
      const source: ChunkSource = {
        read: async (buffer, offset, length) => {
          largest = Math.max(largest, budget.inUse);
          // A turn of the event loop per read, so the files' reads interleave.
          await new Promise((resolve) => setImmediate(resolve));
          return (await file.read(buffer, offset, length, null)).bytesRead;
        },
        close: () => file.close(),
      };
      const got: Buffer[] = [];
      try {
        for await (const chunk of readChunks(source, cdc, sizes[i]!, pool, budget)) got.push(Buffer.from(chunk));
      } finally {
        await file.close();
      }
      return Buffer.concat(got);
    };
    const contents = await Promise.all(sizes.map((_, i) => readOne(i)));
    for (const [i, size] of sizes.entries()) assert.ok(contents[i]!.equals(seededBytes(20 + i, size)), `file ${i}`);
    assert.ok(largest > 512 * 1024, `the files overlapped: ${largest} bytes held at most`);
    assert.ok(largest <= budget.limit, `${largest} bytes held, budget ${budget.limit}`);
    assert.equal(budget.inUse, 0);
  });
});
