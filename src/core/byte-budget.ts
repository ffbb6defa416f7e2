/**
 * A semaphore that counts bytes: bounds the bytes held at once by tasks running together (file buffers
 * in a backup's reads, plaintexts read from disks and not uploaded yet in an ingest). Waiters are served
 * in order, so a large request is not starved by smaller ones behind it; a request larger than the whole
 * budget runs alone, so it never waits forever.
 */
export class ByteBudget {
  private held = 0;
  private most = 0;
  private readonly waiting: { bytes: number; resolve: () => void }[] = [];

  constructor(readonly limit: number) {
    if (!(limit > 0)) throw new RangeError(`a byte budget must be positive, got ${limit}`);
  }

  /** Bytes taken and not given back. */
  get inUse(): number {
    return this.held;
  }

  /** The most bytes held at once so far (for tests and measurements). */
  get peak(): number {
    return this.most;
  }

  /**
   * Waits until `bytes` fit beside what is held (or nothing is held), takes them, and answers the function
   * that gives them back (calling it again does nothing).
   */
  async take(bytes: number): Promise<() => void> {
    if (this.waiting.length === 0 && this.fits(bytes)) this.hold(bytes);
    else await new Promise<void>((resolve) => this.waiting.push({ bytes, resolve }));
    return this.releaser(bytes);
  }

  /**
   * Takes `bytes` more at once, beyond the limit if need be, for a holder that must grow to finish (a file
   * that grew since it was looked at): waiting there could deadlock holders waiting for each other.
   */
  takeNow(bytes: number): () => void {
    this.hold(bytes);
    return this.releaser(bytes);
  }

  private releaser(bytes: number): () => void {
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.held -= bytes;
      this.serve();
    };
  }

  /** Lets the waiters that now fit go, in order. */
  private serve(): void {
    while (this.waiting.length > 0 && this.fits(this.waiting[0]!.bytes)) {
      const next = this.waiting.shift()!;
      this.hold(next.bytes);
      next.resolve();
    }
  }

  private hold(bytes: number): void {
    this.held += bytes;
    this.most = Math.max(this.most, this.held);
  }

  private fits(bytes: number): boolean {
    return this.held === 0 || this.held + bytes <= this.limit;
  }
}
