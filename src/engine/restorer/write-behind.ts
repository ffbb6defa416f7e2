/** A region of a {@link WriteBehindRing} in use: free again once every write out of it completed. */
export interface RingSegment {
  readonly start: number;
  readonly end: number;
  /** Writes still reading from it (plus one while it is being filled). */
  refs: number;
}

/**
 * One fixed buffer that decoded blobs are written from while their writes run on libuv's thread pool:
 * allocated in order, freed when their writes complete (in any order), reused without page faults or
 * allocator calls. A region is taken contiguously, after the newest one or from the start once the end
 * has no room; its space comes back when every older region is free too (so at most one region's worth
 * of room waits behind a slow write).
 */
export class WriteBehindRing {
  readonly bytes: Buffer;
  /** Live segments, oldest first. */
  private readonly live: RingSegment[] = [];
  private readonly waiting: (() => void)[] = [];

  constructor(size: number) {
    this.bytes = Buffer.allocUnsafeSlow(size);
  }

  get size(): number {
    return this.bytes.length;
  }

  /** Whether nothing is in use (every write out of the ring completed). */
  get empty(): boolean {
    return this.live.length === 0;
  }

  /** A region of `length` bytes (1 ≤ length ≤ size) with one reference, or undefined while there is no room. */
  take(length: number): RingSegment | undefined {
    const at = this.place(length);
    if (at === undefined) return undefined;
    const segment: RingSegment = { start: at, end: at + length, refs: 1 };
    this.live.push(segment);
    return segment;
  }

  /** Drops a reference; the segment's room comes back once it has none left and no older one is live. */
  release(segment: RingSegment): void {
    if (--segment.refs > 0) return;
    let freed = false;
    while (this.live.length > 0 && this.live[0]!.refs === 0) {
      this.live.shift();
      freed = true;
    }
    if (freed) for (const wake of this.waiting.splice(0)) wake();
  }

  /** Settles when some room came back (the caller tries {@link take} again). */
  roomFreed(): Promise<void> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private place(length: number): number | undefined {
    if (length > this.bytes.length) return undefined;
    const oldest = this.live[0];
    const newest = this.live[this.live.length - 1];
    if (!oldest || !newest) return 0;
    if (newest.start >= oldest.start) {
      // Not wrapped: room after the newest, else before the oldest.
      if (newest.end + length <= this.bytes.length) return newest.end;
      return length <= oldest.start ? 0 : undefined;
    }
    // Wrapped: room between the newest (near the start) and the oldest.
    return newest.end + length <= oldest.start ? newest.end : undefined;
  }
}
