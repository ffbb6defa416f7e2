import type { FileHandle } from 'node:fs/promises';
import type { FastCdc } from '../chunker/fastcdc.js';
import type { BufferPool } from '../fs/buffer-pool.js';

/**
 * Reads a file and yields its content-defined chunks in order. Each yielded buffer is a view into an
 * internal buffer that is reused: consume it before asking for the next chunk. The buffer starts at
 * the expected file size (small files take one read) and grows to twice the maximum chunk size when
 * the file turns out larger, so the chunker always sees a full maximum chunk except at end of file.
 * Buffers come from `pool` and go back to it when the generator ends (however it ends).
 */
export async function* readChunks(file: FileHandle, cdc: FastCdc, expectedSize: number, pool: BufferPool): AsyncGenerator<Buffer> {
  const maxChunk = cdc.maxSize;
  const fullSize = 2 * maxChunk;
  let buffer = pool.take(expectedSize < maxChunk ? Math.max(expectedSize + 1, 4096) : fullSize);
  try {
    let start = 0;
    let end = 0;
    let eof = false;
    for (;;) {
      while (!eof && end - start < maxChunk) {
        if (end === buffer.length) {
          if (start > 0) {
            buffer.copy(buffer, 0, start, end);
            end -= start;
            start = 0;
          } else {
            const larger = pool.take(fullSize);
            buffer.copy(larger, 0, 0, end);
            pool.give(buffer);
            buffer = larger;
          }
        }
        const { bytesRead } = await file.read(buffer, end, buffer.length - end, null);
        if (bytesRead === 0) eof = true;
        end += bytesRead;
      }
      if (start === end) return;
      const cut = cdc.findCut(buffer, start, end);
      yield buffer.subarray(start, start + cut);
      start += cut;
    }
  } finally {
    pool.give(buffer);
  }
}
