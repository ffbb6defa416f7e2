/**
 * Runs `work` on the items of `source` concurrently and yields the results in source order. The source
 * is pulled ahead of the consumer by its own loop, so reading and working go on while the consumer is
 * busy (e.g. writing): at most `window` results are started and not yet taken by the consumer, which
 * bounds memory and the work in flight.
 *
 * A failing `work` makes the consumer's iteration throw when it reaches that item; a failing source
 * throws after the items before the failure. When the consumer stops early (break, throw), the source
 * loop stops, the source's `return` is called, and the work already started is waited for (its results
 * and errors dropped) before the generator finishes: nothing it started runs on behind the consumer's back.
 */
export async function* mapOrdered<T, U>(source: AsyncIterable<T>, window: number, work: (item: T) => Promise<U>): AsyncGenerator<U> {
  if (!(window >= 1)) throw new RangeError('window must be at least 1');
  const queue: Promise<U>[] = [];
  let finished = false;
  let stopped = false;
  let failure: { error: unknown } | undefined;
  let wakeConsumer: (() => void) | undefined;
  let wakeSource: (() => void) | undefined;

  const pump = (async (): Promise<void> => {
    try {
      for await (const item of source) {
        const result = work(item);
        // Rejections are seen by the consumer when it reaches the item; mark them handled meanwhile.
        result.catch(() => undefined);
        queue.push(result);
        wakeConsumer?.();
        while (queue.length >= window && !stopped) await new Promise<void>((resolve) => (wakeSource = resolve));
        if (stopped) break;
      }
    } catch (error) {
      failure = { error };
    } finally {
      finished = true;
      wakeConsumer?.();
    }
  })();

  try {
    for (;;) {
      const next = queue.shift();
      if (next !== undefined) {
        wakeSource?.();
        yield await next;
        continue;
      }
      if (failure) throw failure.error;
      if (finished) return;
      await new Promise<void>((resolve) => (wakeConsumer = resolve));
      wakeConsumer = undefined;
    }
  } finally {
    stopped = true;
    wakeSource?.();
    await pump;
    await Promise.allSettled(queue);
  }
}
