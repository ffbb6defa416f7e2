import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { BufferPool } from '../../core/buffer-pool.js';
import { gatheredBody, UPLOAD_BUFFERS_KEPT, UPLOAD_CHUNK_BYTES } from './upload-body.js';

const newPool = (): BufferPool => new BufferPool(UPLOAD_BUFFERS_KEPT * UPLOAD_CHUNK_BYTES);

const PIECE = 64 * 1024;

/** A body as node:http delivers it: pieces of at most 64 KiB, written as the consumer makes room. */
function bodyOf(bytes: Buffer): PassThrough {
  const body = new PassThrough();
  void (async () => {
    for (let at = 0; at < bytes.byteLength; at += PIECE) {
      if (!body.write(bytes.subarray(at, at + PIECE))) await new Promise((resolve) => body.once('drain', resolve));
    }
    body.end();
  })();
  return body;
}

/** Collects what the consumer sees, copying each chunk before asking for the next (it may be reused after). */
async function collect(chunks: AsyncIterable<Buffer>): Promise<{ bytes: Buffer; sizes: number[]; buffers: Set<ArrayBufferLike> }> {
  const copies: Buffer[] = [];
  const buffers = new Set<ArrayBufferLike>();
  for await (const chunk of chunks) {
    copies.push(Buffer.from(chunk));
    buffers.add(chunk.buffer);
  }
  return { bytes: Buffer.concat(copies), sizes: copies.map((c) => c.byteLength), buffers };
}

describe('gatheredBody', () => {
  it('hands a body on in chunks of 1 MiB, the last one shorter, with every byte in order', async () => {
    const bytes = randomBytes(2 * UPLOAD_CHUNK_BYTES + 3 * PIECE + 17);
    const seen = await collect(gatheredBody(bodyOf(bytes), newPool()));
    assert.deepEqual(seen.sizes, [UPLOAD_CHUNK_BYTES, UPLOAD_CHUNK_BYTES, 3 * PIECE + 17]);
    assert.ok(seen.bytes.equals(bytes));
  });

  it('yields nothing for an empty body and a single short chunk for a small one', async () => {
    const pool = newPool();
    assert.deepEqual((await collect(gatheredBody(bodyOf(Buffer.alloc(0)), pool))).sizes, []);
    const small = randomBytes(100);
    const seen = await collect(gatheredBody(bodyOf(small), pool));
    assert.deepEqual(seen.sizes, [100]);
    assert.ok(seen.bytes.equals(small));
  });

  it('recycles its buffers: a second upload allocates none', async () => {
    const pool = newPool();
    const first = await collect(gatheredBody(bodyOf(randomBytes(4 * UPLOAD_CHUNK_BYTES)), pool));
    const kept = pool.idleBuffers;
    assert.ok(kept >= 1 && kept <= 3, `one to three buffers in use at once, got ${kept}`);
    const second = await collect(gatheredBody(bodyOf(randomBytes(4 * UPLOAD_CHUNK_BYTES)), pool));
    for (const buffer of second.buffers) assert.ok(first.buffers.has(buffer), 'the second upload used only the first one’s buffers');
    assert.equal(pool.idleBuffers, kept);
  });

  it('keeps the body paused while a full chunk waits for the consumer', async () => {
    const body = new PassThrough({ highWaterMark: PIECE });
    const chunks = gatheredBody(body, newPool());
    const bytes = randomBytes(8 * UPLOAD_CHUNK_BYTES);
    let accepted = 0;
    void (async () => {
      for (let at = 0; at < bytes.byteLength && !body.destroyed; at += PIECE) {
        if (!body.write(bytes.subarray(at, at + PIECE))) await new Promise((resolve) => body.once('drain', resolve));
        accepted += PIECE;
      }
    })();
    const first = await chunks.next();
    assert.ok(first.done !== true);
    assert.equal(first.value.byteLength, UPLOAD_CHUNK_BYTES);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The consumer holds one chunk and has not asked again: one more is filled, then the writer waits.
    assert.ok(body.isPaused());
    assert.ok(accepted <= 2 * UPLOAD_CHUNK_BYTES + 4 * PIECE, `accepted ${accepted} bytes before backpressure`);
    await chunks.return(undefined);
  });

  it('fails when the body errors or closes before its end, and gives its buffers back', async () => {
    const pool = newPool();
    const failing = new PassThrough();
    failing.write(randomBytes(PIECE));
    setImmediate(() => failing.destroy(new Error('connection reset')));
    await assert.rejects(collect(gatheredBody(failing, pool)), /connection reset/);
    const cut = new PassThrough();
    cut.write(randomBytes(PIECE));
    setImmediate(() => cut.destroy());
    await assert.rejects(collect(gatheredBody(cut, pool)), /closed before its end/);
    assert.equal(pool.idleBuffers, 1);
  });

  it('fails at once for a body destroyed before it is read (the client went away while the route decided)', async () => {
    const body = new PassThrough();
    body.write(randomBytes(PIECE));
    body.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    await assert.rejects(collect(gatheredBody(body, newPool())), /closed before its end/);
  });

  it('destroys an unfinished body when the consumer stops early', async () => {
    const pool = newPool();
    const body = bodyOf(randomBytes(3 * UPLOAD_CHUNK_BYTES));
    for await (const chunk of gatheredBody(body, pool)) {
      assert.equal(chunk.byteLength, UPLOAD_CHUNK_BYTES);
      break;
    }
    assert.ok(body.destroyed);
    assert.ok(pool.idleBuffers >= 1);
  });
});
