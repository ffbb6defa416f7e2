/** The outcome of one read: its data, or the error it failed with (so the caller decides what it means). */
export type ReadOutcome<D> = { readonly ok: true; readonly data: D } | { readonly ok: false; readonly error: unknown };

/**
 * Issues the reads of `requests` in order with up to `depth` of them in flight, and yields each request
 * with its outcome in request order. Lets the reading of the next bytes overlap the processing of the
 * current ones. When the consumer stops early, reads already issued finish unobserved.
 */
export async function* readAhead<R, D>(requests: Iterable<R>, depth: number, load: (request: R) => Promise<D>): AsyncGenerator<{ request: R; outcome: ReadOutcome<D> }> {
  const inFlight: { request: R; outcome: Promise<ReadOutcome<D>> }[] = [];
  const iterator = requests[Symbol.iterator]();
  let exhausted = false;
  const fill = (): void => {
    while (!exhausted && inFlight.length < depth) {
      const next = iterator.next();
      if (next.done) {
        exhausted = true;
        return;
      }
      const request = next.value;
      inFlight.push({
        request,
        outcome: load(request).then(
          (data): ReadOutcome<D> => ({ ok: true, data }),
          (error: unknown): ReadOutcome<D> => ({ ok: false, error }),
        ),
      });
    }
  };
  fill();
  while (inFlight.length > 0) {
    const head = inFlight.shift()!;
    fill();
    const outcome = await head.outcome;
    yield { request: head.request, outcome };
  }
}
