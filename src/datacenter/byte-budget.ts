/**
 * Bounds the bytes held in memory at once (plaintexts read from disks and not uploaded yet), shared by
 * every disk of an ingest. A request larger than the whole budget is let through alone, so one big file
 * never waits forever. Waiters are served in order.
 */
export class ByteBudget {
  private used = 0;
  private readonly waiters: { bytes: number; wake: () => void }[] = [];

  constructor(readonly limit: number) {
    if (!(limit > 0)) throw new RangeError('a byte budget needs a positive limit');
  }

  /** Waits until `bytes` fit, takes them, and answers the function that gives them back (call it once). */
  async take(bytes: number): Promise<() => void> {
    const amount = Math.min(Math.max(0, bytes), this.limit);
    if (this.waiters.length > 0 || this.used + amount > this.limit) {
      await new Promise<void>((wake) => this.waiters.push({ bytes: amount, wake }));
    } else {
      this.used += amount;
    }
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.used -= amount;
      this.serve();
    };
  }

  /** Bytes taken and not given back. */
  get inUse(): number {
    return this.used;
  }

  private serve(): void {
    while (this.waiters.length > 0 && this.used + this.waiters[0]!.bytes <= this.limit) {
      const next = this.waiters.shift()!;
      this.used += next.bytes;
      next.wake();
    }
  }
}
