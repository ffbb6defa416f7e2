/**
 * An upload's body, read in the pieces `node:http` delivers (≤ 64 KiB, each a new Buffer) and handed on in
 * chunks of up to {@link UPLOAD_CHUNK_BYTES} held in buffers recycled from upload to upload.
 *
 * Why: the HTTP parser copies every piece of a body into a Buffer of its own, whose memory V8 counts as
 * external. A piece that lives on across a few scavenges (queued in the request's stream while the route
 * awaits a write, passed through async generators) is promoted and freed only by a full collection, and
 * enough such memory starts one (docs/PERFORMANCE.md, "The trip's copies, fourth round"). Here each piece
 * is copied into the current chunk in the 'data' event that delivers it and dropped at once; the route's
 * size limit, byte count, hash and storage write then run once per chunk instead of once per piece.
 *
 * A chunk handed out is valid until the consumer asks for the next one (the Storage interface's rule for a
 * save's source: a source may reuse its buffer once asked for the next chunk); then it goes back to the pool.
 */
import type { Readable } from 'node:stream';
import type { BufferPool } from '../../core/buffer-pool.js';

/** The size of the chunks an upload is gathered into (FsStorage writes chunks this large as they are). */
export const UPLOAD_CHUNK_BYTES = 1024 * 1024;
/** Chunk buffers a service keeps idle for the next uploads (each upload in flight uses up to three). */
export const UPLOAD_BUFFERS_KEPT = 24;

/**
 * Yields `body`'s bytes in chunks of {@link UPLOAD_CHUNK_BYTES} (the last one shorter), each a view of a
 * pooled buffer. At most one full chunk waits besides the one being filled and the one the consumer holds:
 * the body is paused until the consumer asks again (backpressure to the client through TCP). Throws the
 * stream's error, or an `Error` when the body closes before its end (the client went away). A consumer
 * that stops early destroys an unfinished body, as a `for await` over the stream would.
 */
export async function* gatheredBody(body: Readable, pool: BufferPool): AsyncGenerator<Buffer> {
  let filling: Buffer | undefined;
  let filled = 0;
  const ready: Buffer[] = [];
  let ended = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const signal = (): void => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const onData = (piece: Buffer): void => {
    for (let at = 0; at < piece.byteLength; ) {
      filling ??= pool.take(UPLOAD_CHUNK_BYTES);
      const n = Math.min(piece.byteLength - at, UPLOAD_CHUNK_BYTES - filled);
      piece.copy(filling, filled, at, at + n);
      filled += n;
      at += n;
      if (filled === UPLOAD_CHUNK_BYTES) {
        ready.push(filling);
        filling = undefined;
        filled = 0;
      }
    }
    if (ready.length > 0) {
      body.pause();
      signal();
    }
  };
  const onEnd = (): void => {
    ended = true;
    signal();
  };
  const onError = (error: unknown): void => {
    failure ??= { error };
    signal();
  };
  const onClose = (): void => {
    if (!ended) onError(new Error('the body closed before its end'));
  };
  // A client that went away while the route was still deciding (before this runs) left a destroyed body
  // whose 'close' has already been emitted: nothing would ever wake us.
  if (body.destroyed) {
    if (body.readableEnded) return;
    throw body.errored ?? new Error('the body closed before its end');
  }
  body.on('data', onData);
  body.once('end', onEnd);
  body.on('error', onError);
  body.once('close', onClose);
  let held: Buffer | undefined;
  try {
    for (;;) {
      if (held !== undefined) {
        pool.give(held);
        held = undefined;
      }
      if (failure !== undefined) throw failure.error;
      if (ready.length > 0) {
        held = ready.shift()!;
        body.resume();
        yield held;
        continue;
      }
      if (ended) {
        if (filling === undefined || filled === 0) return;
        held = filling;
        filling = undefined;
        yield held.subarray(0, filled);
        continue;
      }
      body.resume();
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    body.off('data', onData);
    body.off('end', onEnd);
    body.off('close', onClose);
    // A late error of a destroyed body must not go unhandled.
    body.off('error', onError);
    body.on('error', () => undefined);
    if (!ended) body.destroy();
    for (const buffer of [held, filling, ...ready]) if (buffer !== undefined) pool.give(buffer);
  }
}
