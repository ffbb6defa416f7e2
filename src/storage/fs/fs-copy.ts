import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { constants, copyFile, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { IntegrityError, NotFoundError, PermanentError, isErrno } from '../../core/errors.js';
import { DurableFile } from '../../os/durable-file.js';
import { assertValidKey } from '../object-key.js';
import { TEMP_PREFIX, makeFolderDurably } from './fs-storage.js';

/**
 * Copies objects between two FsStorage roots inside the filesystem, without reading them into the
 * process to write them: `copyFile` with COPYFILE_FICLONE (a reflink where the filesystem has them, a
 * kernel copy otherwise). Follows FsStorage's atomic save: a `.tmp-` file next to the target, checked,
 * fsynced, renamed over the target, folder fsynced; on any failure the temp file is removed and the
 * target is untouched.
 */
export class FsObjectCopier {
  readonly #sourceRoot: string;
  readonly #targetRoot: string;

  constructor(sourceRoot: string, targetRoot: string) {
    this.#sourceRoot = resolve(sourceRoot);
    this.#targetRoot = resolve(targetRoot);
  }

  /**
   * Copies `sourceKey` to `targetKey` and returns its size. The copy's bytes must hash to `sha256` (read
   * back from the copy before it becomes visible): else an `IntegrityError` naming the key, and nothing is
   * stored. `NotFoundError` when the source does not exist; `PermanentError` for space and permission.
   */
  async copy(sourceKey: string, targetKey: string, sha256: string): Promise<number> {
    const source = pathOf(this.#sourceRoot, sourceKey);
    const target = pathOf(this.#targetRoot, targetKey);
    const folder = dirname(target);
    const temp = join(folder, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    try {
      await makeFolderDurably(folder);
      await copyFile(source, temp, constants.COPYFILE_FICLONE | constants.COPYFILE_EXCL);
      const { hash, size } = await hashFile(temp);
      if (hash !== sha256) throw new IntegrityError(`copying ${sourceKey}: the bytes have sha256 ${hash}, but the name claims ${sha256}`);
      // fsync, rename over the target, fsync of the folder (the one durable write, os/durable-file.ts).
      await (await DurableFile.adopt(target, temp)).commit();
      return size;
    } catch (err) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw translate(err, sourceKey, this.#sourceRoot, this.#targetRoot);
    }
  }
}

function pathOf(root: string, key: string): string {
  assertValidKey(key);
  if (key.split('/').some((segment) => segment.startsWith(TEMP_PREFIX))) throw new PermanentError(`invalid object key ${JSON.stringify(key)}: "${TEMP_PREFIX}" names temporary files`);
  return join(root, ...key.split('/'));
}

async function hashFile(path: string): Promise<{ hash: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    hash.update(chunk);
  }
  return { hash: hash.digest('hex'), size };
}

function translate(err: unknown, key: string, sourceRoot: string, targetRoot: string): unknown {
  if (err instanceof IntegrityError || err instanceof PermanentError) return err;
  if (isErrno(err, 'ENOENT')) return new NotFoundError(`object ${key} not found in ${sourceRoot}`, { cause: err });
  if (isErrno(err, 'ENOSPC') || isErrno(err, 'EDQUOT')) return new PermanentError(`no space left while copying ${key} into ${targetRoot}: free space and retry`, { cause: err });
  if (isErrno(err, 'EACCES') || isErrno(err, 'EPERM') || isErrno(err, 'EROFS')) {
    return new PermanentError(`permission denied while copying ${key} from ${sourceRoot} to ${targetRoot}`, { cause: err });
  }
  return err;
}
