import { createHmac } from 'node:crypto';
import type { Id } from '../../core/ids.js';

/**
 * Names chunks and trees by HMAC-SHA-256 of their plaintext under the repository's content-id key,
 * so equal content gets equal ids inside a repository while ids reveal nothing without the key.
 * (Keyed BLAKE3 was faster, but its only working npm binding cannot be locked for `npm ci`.)
 */
export class ContentHasher {
  private readonly key: Buffer;

  constructor(key: Uint8Array) {
    this.key = Buffer.from(key);
  }

  idOf(data: Uint8Array): Id {
    return createHmac('sha256', this.key).update(data).digest('hex') as Id;
  }
}
