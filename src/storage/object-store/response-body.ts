/** The object's total size from a Content-Range such as `bytes 0-99/1000`. */
export function totalOf(contentRange: string | undefined): number | undefined {
  const match = contentRange === undefined ? null : /\/([0-9]+)\s*$/.exec(contentRange);
  return match ? Number(match[1]) : undefined;
}

/** Reads a response body, never more than `limit` bytes into memory (more is left unread and fails the caller's length check). */
export async function readBody(body: AsyncIterable<Uint8Array> | undefined, limit: number): Promise<Buffer> {
  if (body === undefined) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    size += chunk.byteLength;
    if (size > limit) {
      (body as { destroy?: () => void }).destroy?.();
      break;
    }
  }
  return Buffer.concat(chunks, size);
}

/**
 * Reads a response body into `target` from its start, never writing more than `limit` bytes (more is left
 * unread), and returns how many bytes it had: `limit + 1` when it had more, which fails the caller's length
 * check. Each byte is copied once, from the socket's chunk into `target`.
 */
export async function readBodyInto(body: AsyncIterable<Uint8Array> | undefined, target: Uint8Array, limit: number): Promise<number> {
  if (body === undefined) return 0;
  let size = 0;
  for await (const chunk of body) {
    if (chunk.byteLength > limit - size) {
      (body as { destroy?: () => void }).destroy?.();
      return limit + 1;
    }
    target.set(chunk, size);
    size += chunk.byteLength;
  }
  return size;
}

/**
 * A response body that ended early or broke off mid-way (the connection was reset): worth reading again,
 * unlike an error the store answered with. Its code is ECONNRESET so that every dialect retries it.
 */
export class InterruptedBodyError extends Error {
  readonly code = 'ECONNRESET';
}

/** `body`, with any error while reading it turned into an {@link InterruptedBodyError} (the original as its cause). */
export async function* guardedBody(body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, what: string): AsyncGenerator<Uint8Array> {
  try {
    yield* body;
  } catch (err) {
    throw new InterruptedBodyError(`reading ${what} broke off: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
