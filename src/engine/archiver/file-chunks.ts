import type { FastCdc } from '../chunker/fastcdc.js';
import type { BufferPool } from '../../core/buffer-pool.js';
import type { ByteBudget } from '../../core/byte-budget.js';
import type { ChunkSource } from './source-file.js';

/**
 * Reads a file and yields its content-defined chunks in order. Each yielded buffer is a view into an
 * internal buffer that is reused: consume it before asking for the next chunk. A file expected smaller
 * than a minimum chunk gets a buffer of its size (one read), grown to the maximum chunk size if the file
 * turns out larger; any other file a buffer of the maximum chunk size, so all of them share one size of
 * buffer and a pool keeps reusing the same few (sized to each file, they came in every power of two up to
 * it, and a pool of bounded size dropped and allocated them over and over). Once it is full (or the file ends), every chunk its bytes decide is cut (see
 * FastCdc.findBoundary); only the undecided tail, part of one chunk, is moved to its start before the
 * next read, and its scan resumes where it stopped, so the buffer never needs more than a maximum chunk
 * and each byte is hashed once. A read that returns fewer bytes than asked ends the file (a regular file's
 * read is short only at its end), so a file whose size was expected right takes one read, not two.
 * Buffers come from `pool` and go back to it when the generator ends (however it ends). With a `budget`,
 * the generator first waits until its buffer's bytes fit in it, and holds them until it ends; a buffer
 * grown for a file larger than expected (it grew since it was looked at) is held beyond the budget.
 */
export async function* readChunks(file: ChunkSource, cdc: FastCdc, expectedSize: number, pool: BufferPool, budget?: ByteBudget): AsyncGenerator<Buffer> {
  const maxChunk = cdc.maxSize;
  const wanted = expectedSize < cdc.minSize ? Math.max(expectedSize + 1, 4096) : maxChunk;
  const held = pool.lengthFor(wanted);
  /** Gives back what the budget granted this file (its buffer's bytes, and any growth). */
  const giveBack = [await budget?.take(held)];
  let buffer = pool.take(wanted);
  try {
    let start = 0;
    let end = 0;
    /** `buffer[start, scanned)` holds no boundary (see findBoundary). */
    let scanned = 0;
    let eof = false;
    for (;;) {
      if (eof && start === end) return;
      if (eof || end === buffer.length) {
        const cut = cdc.findBoundary(buffer, start, end, scanned, eof);
        if (cut > 0) {
          yield buffer.subarray(start, start + cut);
          start += cut;
          scanned = start;
          continue;
        }
        scanned = end;
        if (start > 0) {
          buffer.copy(buffer, 0, start, end);
          end -= start;
          scanned -= start;
          start = 0;
        } else {
          // Only a buffer sized for a small file fills up undecided: a full maxChunk always decides.
          const larger = pool.take(maxChunk);
          giveBack.push(budget?.takeNow(larger.length - buffer.length));
          buffer.copy(larger, 0, 0, end);
          pool.give(buffer);
          buffer = larger;
        }
      }
      const room = buffer.length - end;
      const bytesRead = await file.read(buffer, end, room);
      if (bytesRead < room) eof = true;
      end += bytesRead;
    }
  } finally {
    pool.give(buffer);
    for (const give of giveBack) give?.();
  }
}
