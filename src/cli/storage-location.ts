import { resolve } from 'node:path';
import { UserError } from '../core/errors.js';
import type { Failpoints } from '../core/failpoints.js';
import { FsStorage } from '../storage/fs/fs-storage.js';
import type { Storage } from '../storage/storage.js';

/**
 * The Storage a repository location names: a path or `fs:PATH` today. Other schemes of the CLI
 * contract (azure://, s3://, http(s)://) are recognized and refused with a clear message until their
 * back ends land.
 */
export function openStorage(location: string | undefined, failpoints?: Failpoints): Storage {
  if (!location) throw new UserError('no repository given: pass -r REPO or set FERRY_REPOSITORY');
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(location)?.[1]?.toLowerCase();
  if (scheme === undefined || scheme === 'fs') {
    const path = scheme === 'fs' ? location.slice(3) : location;
    if (path.length === 0) throw new UserError('the repository path is empty');
    return new FsStorage(resolve(path), { failpoints });
  }
  throw new UserError(`repository location scheme "${scheme}:" is not supported by this version; use a local path`);
}
