import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { type Id } from '../../core/ids.js';
import { BlobCompressor } from '../../engine/compress/zstd.js';
import { createKeySlot, INSECURE_TEST_KDF } from '../../engine/crypto/key-slot.js';
import { MasterKey } from '../../engine/crypto/master-key.js';
import { sealIndex } from '../../engine/index/index-file.js';
import { BlobCodec } from '../../engine/pack/blob-codec.js';
import { sealPackHeader } from '../../engine/pack/pack-format.js';
import { newConfig } from '../../engine/repository/config.js';
import { sealJson } from '../../engine/repository/sealed-json.js';
import { seededBytes } from '../../storage/testing/conformance.js';
import { decideObjectShape, decideObjectSize, MAX_SMALL_OBJECT_BYTES, shapeRuleFor, type ShapeFacts } from './object-shape.js';
import { keyOf } from './testing/shaped-objects.js';

const master = MasterKey.generate();
const key = master.encryptionKey;
const id = (seed: number): Id => createHash('sha256').update(`id ${seed}`).digest('hex') as Id;

/** The facts the upload path gathers for `bytes` under `objectKey` (as vault-objects.ts does). */
function factsOf(objectKey: string, bytes: Buffer): ShapeFacts {
  const rule = shapeRuleFor(objectKey);
  return { size: bytes.length, ...(rule?.readsWhole ? { bytes } : {}), ...(rule?.readsTrailer ? { trailer: bytes.subarray(-4) } : {}) };
}

function judge(kind: Parameters<typeof keyOf>[0], bytes: Buffer): ReturnType<typeof decideObjectShape> {
  const objectKey = keyOf(kind, bytes);
  return decideObjectShape(objectKey, factsOf(objectKey, bytes));
}

/** A real pack as the engine builds it: `blobs` data blobs of the given plaintext sizes, header and trailer. */
function realPack(sizes: readonly number[]): Buffer {
  const codec = new BlobCodec(key);
  const encoded = sizes.map((size, i) => codec.encode('data', id(i), seededBytes(size, i + 1)));
  return Buffer.concat([...encoded.map((blob) => blob.sealed), sealPackHeader(key, encoded.map((blob) => ({ ...blob, length: blob.sealed.length })))]);
}

/** The smallest sealed documents the engine's readers accept, and the ones it writes. */
const realObjects: ReadonlyArray<readonly [string, Parameters<typeof keyOf>[0], () => Buffer | Promise<Buffer>]> = [
  ['the config a new repository gets', 'config', () => sealJson(key, 'config', newConfig())],
  ['a lock as the engine writes it', 'lock', () => sealJson(key, 'lock', { time: new Date().toISOString(), exclusive: false, hostname: 'h', username: 'u', pid: 42, nonce: randomBytes(16).toString('hex') })],
  ['the smallest lock a reader accepts', 'lock', () => sealJson(key, 'lock', { time: '0', exclusive: true, hostname: '', username: '', pid: 0, nonce: '' })],
  ['the smallest snapshot a reader accepts', 'snapshot', () => sealJson(key, 'snapshot', { version: 1, time: '0', tree: id(1), paths: [], hostname: '', tags: [], skipped: [] })],
  ['an index file of one pack with one blob (the smallest a backup writes)', 'index', () => sealIndex(key, { supersedes: [], packs: [{ id: id(2), blobs: [{ type: 'data', id: id(3), compression: 0, offset: 0, length: 29, rawLength: 1 }] }] }, new BlobCompressor())],
  ['an index file of 64 packs of 100 blobs (compressed)', 'index', () => sealIndex(key, { supersedes: [], packs: Array.from({ length: 64 }, (_, p) => ({ id: id(1000 + p), blobs: Array.from({ length: 100 }, (_, b) => ({ type: 'data' as const, id: id(p * 100 + b), compression: 0 as const, offset: b * 1000, length: 1000, rawLength: 972 })) })) }, new BlobCompressor())],
  ['a pack of one 1-byte blob (the smallest)', 'pack', () => realPack([1])],
  ['a pack of many blobs', 'pack', () => realPack([1, 100, 5000, 70_000, 3])],
  ['a key slot as init makes it', 'key', () => createKeySlot(master, 'correct horse', INSECURE_TEST_KDF, { created: new Date(), hostname: 'host', username: 'user' })],
];

/** Junk an agent could upload under a content name: each must be refused. */
const junk: ReadonlyArray<readonly [string, Parameters<typeof keyOf>[0], Buffer, RegExp]> = [
  ['100 junk bytes as a snapshot (the issue\'s attack)', 'snapshot', seededBytes(100, 1), /not a snapshot.*100 bytes, fewer than/],
  ['100 junk bytes as an index file (the issue\'s attack)', 'index', seededBytes(100, 2), /not an index file.*100 bytes, fewer than the 120/],
  ['an empty snapshot', 'snapshot', Buffer.alloc(0), /0 bytes/],
  ['an envelope without a plaintext', 'lock', seededBytes(28, 3), /fewer than/],
  ['a config of a few bytes', 'config', seededBytes(40, 4), /not the config/],
  ['a lock larger than a small document', 'lock', seededBytes(MAX_SMALL_OBJECT_BYTES + 1, 5), /more than the 65536/],
  ['a pack whose trailer is junk', 'pack', seededBytes(300, 6), /trailer gives a header of/],
  ['a pack whose header needs more bytes than it has', 'pack', withTrailer(seededBytes(300, 7), 33 + 42 * 6), /lists 6 blob\(s\), which cannot fit/],
  ['a pack with a header of no blobs', 'pack', withTrailer(seededBytes(300, 8), 33), /not 33 \+ 42 × blobs for one blob or more/],
  ['a pack header length between entries', 'pack', withTrailer(seededBytes(300, 9), 33 + 42 + 1), /not 33 \+ 42/],
  ['a pack of two blobs with room for one', 'pack', withTrailer(seededBytes(150, 10), 33 + 42 * 2), /lists 2 blob\(s\), which cannot fit in the 29 bytes/],
  ['junk as a key slot', 'key', seededBytes(300, 11), /not a key slot.*not valid JSON/],
  ['a key slot of another version', 'key', slotWith({ version: 2 }), /unknown version or invalid parameters/],
  ['a key slot asking for 2 GiB of scrypt memory', 'key', slotWith({ kdf: { algorithm: 'scrypt', N: 2 ** 21, r: 8, p: 1, salt: randomBytes(32).toString('base64') } }), /invalid parameters/],
  ['a key slot with a short salt', 'key', slotWith({ kdf: { algorithm: 'scrypt', N: 1024, r: 8, p: 1, salt: randomBytes(8).toString('base64') } }), /salt is not the base64 of 32 bytes/],
  ['a key slot with a wrapped secret of the wrong length', 'key', slotWith({ wrapped: randomBytes(61).toString('base64') }), /wrapped secret is not the base64 of 60 bytes/],
  ['a key slot without a hostname', 'key', slotWith({ hostname: 7 }), /must be strings/],
];

function withTrailer(bytes: Buffer, headerLength: number): Buffer {
  const out = Buffer.from(bytes);
  out.writeUInt32LE(headerLength, out.length - 4);
  return out;
}

function slotWith(change: Record<string, unknown>): Buffer {
  const slot = {
    version: 1,
    created: '2026-11-25T12:00:00.000Z',
    hostname: 'h',
    username: 'u',
    kdf: { algorithm: 'scrypt', N: 1024, r: 8, p: 1, salt: randomBytes(32).toString('base64') },
    wrapped: randomBytes(60).toString('base64'),
    ...change,
  };
  return Buffer.from(JSON.stringify(slot, null, 2) + '\n');
}

describe('object shapes an agent may add (without the key)', () => {
  for (const [what, kind, make] of realObjects) {
    it(`accepts ${what}`, async () => {
      const bytes = await make();
      assert.deepEqual(judge(kind, bytes), { accepted: true }, `${bytes.length} bytes`);
    });
  }

  it('accepts the smallest index file a backup writes at exactly the minimum', () => {
    const bytes = sealIndex(key, { supersedes: [], packs: [{ id: id(2), blobs: [{ type: 'tree', id: id(3), compression: 0, offset: 0, length: 40, rawLength: 12 }] }] }, new BlobCompressor());
    assert.equal(bytes.length, shapeRuleFor(keyOf('index', bytes))!.minSize);
    assert.equal(judge('index', bytes.subarray(1)).accepted, false, 'one byte less is refused');
  });

  it('accepts the smallest pack at exactly the minimum', () => {
    const bytes = realPack([1]);
    assert.equal(bytes.length, shapeRuleFor(keyOf('pack', bytes))!.minSize);
  });

  for (const [what, kind, bytes, reason] of junk) {
    it(`refuses ${what}`, () => {
      const decision = judge(kind, bytes);
      assert.equal(decision.accepted, false);
      assert.match((decision as { reason: string }).reason, reason);
    });
  }

  it('judges a declared length before any byte is read, and a growing upload by the maximum only', () => {
    assert.equal(decideObjectSize('config', 10).accepted, false);
    assert.equal(decideObjectSize('config', 10, false).accepted, true, 'not complete yet');
    assert.equal(decideObjectSize('config', MAX_SMALL_OBJECT_BYTES + 1, false).accepted, false);
    assert.equal(decideObjectSize(`snapshots/${id(1)}`, 64 * 1024 * 1024, false).accepted, true, 'snapshots are bounded by the route only');
  });

  it('leaves keys outside the layout to the access policy', () => {
    assert.deepEqual(decideObjectShape('notes/readme', { size: 1 }), { accepted: true });
    assert.equal(shapeRuleFor('notes/readme'), undefined);
  });
});
