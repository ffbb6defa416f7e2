import { NotFoundError } from '../core/errors.js';
import type { Storage } from './storage.js';

/** True when `key` exists in `storage`; other errors than `NotFoundError` propagate. */
export async function objectExists(storage: Storage, key: string): Promise<boolean> {
  try {
    await storage.stat(key);
    return true;
  } catch (err) {
    if (err instanceof NotFoundError) return false;
    throw err;
  }
}
