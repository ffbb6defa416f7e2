/** By default, buffers below this size come from Node's allocator as usual (see the constructor). */
const MIN_POOLED = 64 * 1024;

/**
 * Reusable buffers in power-of-two sizes, so a backup does not allocate (and the kernel does not map,
 * fault in and unmap) a large buffer per file. A buffer taken must be given back only once nothing
 * refers to its bytes any more. At most `maxBytes` are kept idle; beyond that, given buffers are dropped.
 */
export class BufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private idleBytes = 0;

  /**
   * `allocate` makes a new buffer of exactly the size asked (Node's by default; a caller that writes them
   * past the page cache passes an aligned allocator, os/direct-write.ts). Requests below `minPooled` bytes
   * get a buffer of their own from Node (`Buffer.allocUnsafe`), not pooled.
   */
  constructor(
    private readonly maxBytes: number,
    private readonly allocate: (bytes: number) => Buffer = (bytes) => Buffer.allocUnsafeSlow(bytes),
    private readonly minPooled = MIN_POOLED,
  ) {}

  /** The length of the buffer {@link take} gives for `bytes`. */
  lengthFor(bytes: number): number {
    return bytes < this.minPooled ? bytes : sizeClass(bytes);
  }

  /** A buffer of at least `bytes` bytes, {@link lengthFor} long (its content is undefined). */
  take(bytes: number): Buffer {
    if (bytes < this.minPooled) return Buffer.allocUnsafe(bytes);
    const size = sizeClass(bytes);
    const reused = this.free.get(size)?.pop();
    if (reused) {
      this.idleBytes -= size;
      return reused;
    }
    return this.allocate(size);
  }

  /** Hands a buffer from {@link take} back for reuse. */
  give(buffer: Buffer): void {
    const size = buffer.length;
    if (size < this.minPooled || size !== sizeClass(size) || this.idleBytes + size > this.maxBytes) return;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buffer);
    this.idleBytes += size;
  }

  /** How many buffers are kept idle (for tests). */
  get idleBuffers(): number {
    let count = 0;
    for (const list of this.free.values()) count += list.length;
    return count;
  }
}

/** The power of two a pooled buffer of `bytes` bytes is rounded up to. */
export function sizeClass(bytes: number): number {
  return 2 ** Math.ceil(Math.log2(bytes));
}
