/**
 * A semaphore that counts bytes: bounds the bytes held by tasks running at once (buffers in flight).
 * Waiters are served in order, so a large request is not starved by smaller ones behind it; a request
 * larger than the whole budget runs alone.
 */
export class ByteBudget {
  private held = 0;
  private readonly waiting: { bytes: number; resolve: () => void }[] = [];

  constructor(readonly limit: number) {
    if (!(limit > 0)) throw new RangeError(`a byte budget must be positive, got ${limit}`);
  }

  /** Bytes held now (for tests and diagnostics). */
  get inUse(): number {
    return this.held;
  }

  /** Waits until `bytes` fit beside what is held (or nothing is held), then holds them. */
  async take(bytes: number): Promise<void> {
    if (this.waiting.length === 0 && this.fits(bytes)) {
      this.held += bytes;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push({ bytes, resolve }));
  }

  /**
   * Holds `bytes` more at once, beyond the limit if need be: for a holder that must grow to finish (a
   * file that grew since it was looked at). Waiting there could deadlock holders waiting for each other.
   */
  takeNow(bytes: number): void {
    this.held += bytes;
  }

  /** Gives back bytes from {@link take} or {@link takeNow}, and lets the waiters that now fit go. */
  give(bytes: number): void {
    this.held -= bytes;
    while (this.waiting.length > 0 && this.fits(this.waiting[0]!.bytes)) {
      const next = this.waiting.shift()!;
      this.held += next.bytes;
      next.resolve();
    }
  }

  private fits(bytes: number): boolean {
    return this.held === 0 || this.held + bytes <= this.limit;
  }
}
