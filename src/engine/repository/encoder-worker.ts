import { parentPort, workerData } from 'node:worker_threads';
import type { Id } from '../../core/ids.js';
import { DIRECT_ALIGN, alignedView, allocateAligned } from '../../os/direct-write.js';
import { SEAL_OVERHEAD } from '../crypto/aead.js';
import { ContentHasher } from '../crypto/content-id.js';
import { BlobCodec } from '../pack/blob-codec.js';
import { PackBuilder, type FinishedPack } from '../pack/pack-builder.js';
import type { BlobJob, EncoderSetup, FromEncoder, PackMessage, ToEncoder } from './encoder-protocol.js';

/**
 * Worker thread: hashes blobs, then compresses and seals the ones the main thread did not know and packs
 * them (see EncoderPool). Blobs are read in place from the shared ring; each is compressed into a reused
 * scratch buffer and sealed straight into its pack. Finished packs go to the main thread, which saves
 * them and hands their buffers to whichever worker starts a data pack next.
 */
const setup = workerData as EncoderSetup;
const ring = new Uint8Array(setup.ring);
const codec = new BlobCodec(setup.encryptionKey, setup.compressionLevel);
const hasher = new ContentHasher(setup.contentIdKey);
/** Batches hashed and waiting for their encode decision, oldest first, with their ids. */
const hashed: HashedBatch[] = [];
/** Batches to encode, oldest first; the first may be part done (waiting for a pack buffer, see {@link mustWait}). */
const encoding: EncodingBatch[] = [];
let flushAsked = false;

interface HashedBatch {
  readonly jobs: BlobJob[];
  readonly ids: Id[];
}
/** One shape for every batch (a spread per batch gave each its own hidden class in this isolate). */
interface EncodingBatch {
  readonly jobs: BlobJob[];
  readonly ids: Id[];
  readonly encode: readonly boolean[];
  next: number;
}

function bytesOf(job: BlobJob): Uint8Array {
  return job.data ?? ring.subarray(job.offset, job.offset + job.length);
}

/**
 * The data pack buffer granted by the main thread and not used yet: a saved pack's buffer, or `NEW`
 * (allocate one). Data pack buffers are a budget shared by the workers (see EncoderPool): the worker
 * starts a data pack only with a grant, asks for one (`want`) when it has none, and waits meanwhile
 * while the main thread keeps filling its ring. Tree packs start small and are not budgeted.
 */
const NEW = 'new';
let granted: ArrayBuffer | typeof NEW | undefined;
let asked = false;
// Pack buffers start on a block boundary, so FsStorage writes them past the page cache (os/direct-write.ts).
const builder = new PackBuilder(setup.encryptionKey, setup.packSize, (bytes, type, grows) => {
  if (type !== 'data' || grows) return allocateAligned(bytes);
  const grant = granted;
  granted = undefined;
  if (grant === undefined) throw new Error('a data pack started without a buffer granted');
  if (grant !== NEW && grant.byteLength >= bytes + DIRECT_ALIGN) return alignedView(grant);
  return allocateAligned(bytes);
});
const port = parentPort!;

function send(message: FromEncoder): void {
  port.postMessage(message, 'packs' in message ? message.packs.map((p) => p.bytes.buffer as ArrayBuffer) : []);
}

function toMessage(pack: FinishedPack): PackMessage {
  return { id: pack.id, bytes: pack.bytes, blobs: pack.blobs };
}

/**
 * True when the data blob `job` may start a pack (its sealed length is at most its raw length plus the
 * seal) and no buffer is granted for it: then the worker finishes its open data pack, if any, so it holds
 * no buffer while it waits (two workers each holding one and waiting for another would wait forever), asks
 * for a buffer, once, and waits. The pack may end a blob early when the blob compresses well (see
 * PackBuilder's early finish: nothing reads a pack's size as a promise).
 */
function mustWait(job: BlobJob): boolean {
  if (job.type !== 'data' || granted !== undefined || !builder.startsPack('data', job.length + SEAL_OVERHEAD)) return false;
  if (!asked) {
    asked = true;
    const finished = builder.finishOpen('data');
    if (finished) send({ kind: 'packed', packs: [toMessage(finished)] });
    send({ kind: 'want' });
  }
  return true;
}

/**
 * Encodes the batches decided so far, in order, answering `done` for each; stops before a blob that
 * must wait for a pack buffer (a `buffer` resumes it). A finished pack goes out at once, so its save
 * (which brings a buffer back) never waits for the rest of its batch.
 */
function encodePending(): void {
  while (encoding.length > 0) {
    const batch = encoding[0]!;
    while (batch.next < batch.jobs.length) {
      const i = batch.next;
      const job = batch.jobs[i]!;
      if (batch.encode[i] && mustWait(job)) return;
      batch.next++;
      if (!batch.encode[i]) continue;
      const finished = codec.encodeInto(builder, job.type, batch.ids[i]!, bytesOf(job));
      if (finished) send({ kind: 'packed', packs: [toMessage(finished)] });
    }
    encoding.shift();
    send({ kind: 'done' });
  }
  if (flushAsked) {
    flushAsked = false;
    send({ kind: 'flushed', packs: builder.finishAll().map(toMessage) });
  }
}

port.on('message', (message: ToEncoder) => {
  try {
    if (message.kind === 'buffer') {
      granted = message.buffer ?? NEW;
      asked = false;
      encodePending();
      return;
    }
    if (message.kind === 'flush') {
      flushAsked = true;
      encodePending();
      return;
    }
    if (message.kind === 'hash') {
      const ids = message.jobs.map((job) => job.id ?? hasher.idOf(job.type, bytesOf(job)));
      hashed.push({ jobs: message.jobs, ids });
      send({ kind: 'hashed', ids });
      return;
    }
    const batch = hashed.shift();
    if (!batch) throw new Error('encode without a hashed batch');
    encoding.push({ jobs: batch.jobs, ids: batch.ids, encode: message.encode, next: 0 });
    encodePending();
  } catch (err) {
    port.postMessage({ kind: 'error', message: err instanceof Error ? err.message : String(err) } satisfies FromEncoder);
  }
});
