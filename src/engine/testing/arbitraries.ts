/**
 * fast-check arbitraries and small helpers shared by the engine's format and crypto tests.
 * Test-only (tsconfig.build.json excludes testing/ folders).
 */
import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import fc from 'fast-check';
import { IntegrityError } from '../../core/errors.js';
import type { Id } from '../../core/ids.js';
import { Compression } from '../compress/zstd.js';
import type { IndexFile } from '../index/index-format.js';
import type { PackEntry, PackedBlob } from '../pack/pack-format.js';

export const U32_MAX = 2 ** 32 - 1;

/** Any 32-byte id, as 64 lowercase hex digits. */
export const idArb: fc.Arbitrary<Id> = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .map((bytes) => Buffer.from(bytes).toString('hex') as Id);

/** A 32-byte key for AES-256-GCM. */
export const keyArb: fc.Arbitrary<Buffer> = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b));

export const bytesArb = (maxLength = 1024, minLength = 0): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ minLength, maxLength }).map((b) => Buffer.from(b));

export const blobTypeArb = fc.constantFrom('data' as const, 'tree' as const);
export const compressionArb = fc.constantFrom(Compression.None, Compression.Zstd);
export const u32Arb = fc.integer({ min: 0, max: U32_MAX });

/** A pack entry whose lengths span the whole uint32 range. */
export const packEntryArb = (maxLength = U32_MAX): fc.Arbitrary<PackEntry> =>
  fc.record({
    type: blobTypeArb,
    id: idArb,
    compression: compressionArb,
    length: fc.integer({ min: 0, max: maxLength }),
    rawLength: u32Arb,
  }, { noNullPrototype: true });

/** A blob as listed in an index: every field independent, offsets anywhere in uint32. */
export const packedBlobArb: fc.Arbitrary<PackedBlob> = fc.record({
  type: blobTypeArb,
  id: idArb,
  compression: compressionArb,
  offset: u32Arb,
  length: u32Arb,
  rawLength: u32Arb,
}, { noNullPrototype: true });

/** An index file of up to 8 packs of up to 10 blobs each, superseding up to 5 others. */
export const indexFileArb: fc.Arbitrary<IndexFile> = fc.record(
  {
    packs: fc.array(fc.record({ id: idArb, blobs: fc.array(packedBlobArb, { maxLength: 10 }) }, { noNullPrototype: true }), { maxLength: 8 }),
    supersedes: fc.array(idArb, { maxLength: 5 }),
  },
  { noNullPrototype: true },
);

/** Reproducible pseudo-random bytes (AES-128-CTR keystream): incompressible and independent of fast-check's bias. */
export function seededBytes(seed: number, length: number): Buffer {
  const key = createHash('sha256').update(`ferry test seed ${seed}`).digest().subarray(0, 16);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length));
}

/** Incompressible data of `minLength`..`maxLength` bytes. */
export const randomDataArb = (minLength: number, maxLength: number): fc.Arbitrary<Buffer> =>
  fc.tuple(fc.nat(), fc.integer({ min: minLength, max: maxLength })).map(([seed, length]) => seededBytes(seed, length));

/** Highly compressible data: a short pattern repeated to `minLength`..`maxLength` bytes. */
export const compressibleDataArb = (minLength: number, maxLength: number): fc.Arbitrary<Buffer> =>
  fc
    .tuple(fc.uint8Array({ minLength: 1, maxLength: 16 }), fc.integer({ min: minLength, max: maxLength }))
    .map(([pattern, length]) => {
      const out = Buffer.allocUnsafe(length);
      for (let i = 0; i < length; i++) out[i] = pattern[i % pattern.length]!;
      return out;
    });

/** A copy of `bytes` with bit `bit` (0 ≤ bit < 8·length) inverted. */
export function flipBit(bytes: Uint8Array, bit: number): Buffer {
  const out = Buffer.from(bytes);
  const at = bit >>> 3;
  out[at] = out[at]! ^ (1 << (bit & 7));
  return out;
}

/** `bytes` at a non-zero offset inside a larger buffer, to catch code that ignores `byteOffset`. */
export function atOffset(bytes: Uint8Array, offset = 7): Buffer {
  const backing = Buffer.alloc(offset + bytes.length + 5, 0xa5);
  Buffer.from(bytes).copy(backing, offset);
  return backing.subarray(offset, offset + bytes.length);
}

/** Asserts that `fn` throws an `IntegrityError`. */
export function assertIntegrityError(fn: () => unknown, message?: string): void {
  assert.throws(fn, IntegrityError, message);
}

/** Asserts that `promise` rejects with an `IntegrityError`. */
export async function assertRejectsIntegrity(promise: Promise<unknown>, message?: string): Promise<void> {
  await assert.rejects(promise, IntegrityError, message);
}
