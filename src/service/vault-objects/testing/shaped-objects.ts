/**
 * Bytes shaped like each kind of repository object as far as the service can see without the key
 * (../object-shape.ts): right sizes, a pack trailer that fits, a key slot that parses. Nothing can open
 * them; for route tests that are about access, not about the format.
 */
import { createHash } from 'node:crypto';
import type { ObjectKind } from '../../../storage/layout.js';
import { seededBytes } from '../../../storage/testing/conformance.js';

/** One object of `kind` from `seed`; `size` (default 300) is ignored for key slots, whose size follows from their JSON. */
export function shapedBytes(kind: ObjectKind, seed = 1, size = 300): Buffer {
  if (kind === 'key') {
    const slot = {
      version: 1,
      created: '2026-11-25T12:00:00.000Z',
      hostname: `host-${seed}`,
      username: 'test',
      kdf: { algorithm: 'scrypt', N: 1024, r: 8, p: 1, salt: seededBytes(32, seed).toString('base64') },
      wrapped: seededBytes(60, seed + 1).toString('base64'),
    };
    return Buffer.from(JSON.stringify(slot, null, 2) + '\n');
  }
  const bytes = seededBytes(size, seed);
  // A sealed header for one blob (33 + 42 bytes), the rest before it being that blob.
  if (kind === 'pack') bytes.writeUInt32LE(75, size - 4);
  return bytes;
}

/** The key `bytes` get as an object of `kind` (content-named: the SHA-256 of the bytes). */
export function keyOf(kind: ObjectKind, bytes: Uint8Array): string {
  const id = createHash('sha256').update(bytes).digest('hex');
  switch (kind) {
    case 'config':
      return 'config';
    case 'pack':
      return `data/${id.slice(0, 2)}/${id}`;
    case 'index':
      return `index/${id}`;
    case 'snapshot':
      return `snapshots/${id}`;
    case 'key':
      return `keys/${id}`;
    case 'lock':
      return `locks/${id}`;
  }
}

/** One shaped object of `kind` with its key. */
export function shapedObject(kind: ObjectKind, seed = 1, size = 300): { key: string; bytes: Buffer } {
  const bytes = shapedBytes(kind, seed, size);
  return { key: keyOf(kind, bytes), bytes };
}
