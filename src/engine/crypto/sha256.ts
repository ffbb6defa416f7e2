import { createHash } from 'node:crypto';
import type { Id } from '../../core/ids.js';

/** The SHA-256 of stored bytes, which names packs, index files, snapshots and key files. */
export function sha256Id(data: Uint8Array): Id {
  return createHash('sha256').update(data).digest('hex') as Id;
}
