import { createHmac } from 'node:crypto';
import type { Id } from '../../core/ids.js';
import type { BlobType } from '../pack/pack-format.js';

const DOMAIN: Record<BlobType, Buffer> = { data: Buffer.from([0]), tree: Buffer.from([1]) };

/**
 * Names chunks and trees by HMAC-SHA-256 of a type byte and their plaintext under the repository's
 * content-id key: equal content of the same type gets equal ids inside a repository, ids reveal
 * nothing without the key, and a file whose bytes happen to equal an encoded tree never shares its id.
 * (Keyed BLAKE3 was faster, but its only working npm binding cannot be locked for `npm ci`.)
 */
export class ContentHasher {
  private readonly key: Buffer;

  constructor(key: Uint8Array) {
    this.key = Buffer.from(key);
  }

  idOf(type: BlobType, data: Uint8Array): Id {
    return createHmac('sha256', this.key).update(DOMAIN[type]).update(data).digest('hex') as Id;
  }
}
