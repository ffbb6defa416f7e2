/**
 * Reads that first try the page cache on the calling thread. A read through node:fs is a round trip
 * through libuv's thread pool: the calling thread queues it, a pool thread wakes (on a machine with few
 * cores, often in the calling thread's place) and the result comes back on a later turn. For a range
 * the kernel already holds (read-ahead of a file read in order: a restore's packs), copying it out on the
 * calling thread costs less. preadv2 with RWF_NOWAIT (the addon's `preadCached`) copies what is cached
 * and never waits for the device (a miss may start the kernel's read-ahead, which the read through the
 * pool then finds under way); the rest, and everything without the addon, goes through the pool.
 */
import { optionalAddon } from './native-addon.js';

/**
 * Copies the part of the `length` bytes at `position` of the file `fd` that is in the page cache into
 * `target` from `offset`, up to the first byte that is not (or the end of the file); answers how many
 * bytes it copied, 0 when none (or without the addon).
 */
export function readCached(fd: number, target: Uint8Array, offset: number, length: number, position: number): number {
  const preadCached = optionalAddon()?.preadCached;
  if (preadCached === undefined) return 0;
  let done = 0;
  while (done < length) {
    const got = preadCached(fd, target, offset + done, length - done, position + done);
    if (got <= 0) break;
    done += got;
  }
  return done;
}
