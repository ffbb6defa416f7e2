import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import type { Id } from '../../core/ids.js';
import { seededBytes } from '../testing/arbitraries.js';
import { BlobCodec } from './blob-codec.js';
import { PackBuilder, type FinishedPack } from './pack-builder.js';
import { openPackHeader } from './pack-format.js';

const KEY = Buffer.alloc(32, 0x5c);
const MiB = 1024 * 1024;
const idOfNumber = (n: number): Id => createHash('sha256').update(String(n)).digest('hex') as Id;

describe('PackBuilder', () => {
  it('finishes a pack early rather than growing its buffer, and never loses or reorders a blob', () => {
    const allocated: number[] = [];
    const builder = new PackBuilder(KEY, 4 * MiB, (bytes) => {
      allocated.push(bytes);
      return Buffer.allocUnsafeSlow(bytes);
    });
    const codec = new BlobCodec(KEY);
    // Incompressible blobs of 3 MiB and less: each second one would overflow a 4 MiB pack's 5 MiB buffer.
    const sizes = [3 * MiB, 3 * MiB, 100, 2 * MiB + 5, 3 * MiB - 1, 500_000, 3 * MiB, 64];
    const packs: FinishedPack[] = [];
    for (const [i, size] of sizes.entries()) {
      const plain = seededBytes(i, size);
      const pack = codec.encodeInto(builder, 'data', idOfNumber(i), plain);
      if (pack) packs.push(pack);
    }
    packs.push(...builder.finishAll());
    assert.ok(allocated.every((bytes) => bytes === allocated[0]), `no pack grew: ${allocated.join(', ')}`);
    const ids = packs.flatMap((pack) => openPackHeader(KEY, pack.bytes).map((blob) => blob.id));
    assert.deepEqual(ids, sizes.map((_, i) => idOfNumber(i)));
    for (const pack of packs.slice(0, -1)) assert.ok(pack.bytes.length >= 2 * MiB, `a pack of ${pack.bytes.length} bytes`);
  });

  it('still grows a pack for a blob that would complete the next pack on its own', () => {
    const builder = new PackBuilder(KEY, 1 * MiB);
    const codec = new BlobCodec(KEY);
    assert.equal(codec.encodeInto(builder, 'data', idOfNumber(1), Buffer.alloc(10)), undefined);
    const pack = codec.encodeInto(builder, 'data', idOfNumber(2), seededBytes(2, 3 * MiB));
    assert.ok(pack);
    assert.deepEqual(openPackHeader(KEY, pack.bytes).map((blob) => blob.id), [idOfNumber(1), idOfNumber(2)]);
  });
});
