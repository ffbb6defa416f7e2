import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PermanentError } from '../../core/errors.js';
import type { Id } from '../../core/ids.js';
import { FsStorage } from '../../storage/fs/fs-storage.js';
import type { ObjectWriter } from '../../storage/storage.js';
import { MasterIndex } from '../index/master-index.js';
import { PackUploader } from './pack-uploader.js';

const id = (n: number): Id => n.toString(16).padStart(64, '0') as Id;

/** An FsStorage whose writers fail at their `failAt`-th append (fault injection: a disk that fills). */
class FillingStorage extends FsStorage {
  appends = 0;
  constructor(
    root: string,
    private readonly failAt: number,
  ) {
    super(root);
  }
  override async begin(folder: string): Promise<ObjectWriter> {
    const writer = await super.begin(folder);
    return {
      append: async (bytes) => {
        if (++this.appends === this.failAt) throw new PermanentError('no space left on device (injected)');
        return writer.append(bytes);
      },
      commit: (key, options) => writer.commit(key, options),
      abort: () => writer.abort(),
    };
  }
}

describe('PackUploader streams (data packs written as they fill)', () => {
  it('a failed append fails every stream once, removes every object in progress and stores nothing', async () => {
    const root = await mkdtemp(join(tmpdir(), 'ferry-pack-uploader-'));
    try {
      const storage = new FillingStorage(root, 3);
      const uploader = new PackUploader(storage, Buffer.alloc(32, 1), new MasterIndex(), 1024 * 1024, () => assert.fail('nothing is saved'));
      const failures: Error[] = [];
      const a = uploader.openStream((err) => failures.push(err));
      const b = uploader.openStream((err) => failures.push(err));
      const block = Buffer.alloc(4096, 7);
      await a.append(block);
      await b.append(block);
      await assert.rejects(a.append(block), PermanentError);
      await assert.rejects(b.append(block), PermanentError, 'the other stream stops too');
      a.sealed(id(1), [], 8192);
      b.sealed(id(2), [], 4096);
      await assert.rejects(uploader.drainStreams(), PermanentError);
      assert.equal(failures.length, 1, 'the caller hears of it once');
      // The aborts run as the writers settle.
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(await readdir(join(root, 'data')), [], 'no temp file and no pack');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('appends each pack\'s ranges in order and commits it under its name once sealed', async () => {
    const root = await mkdtemp(join(tmpdir(), 'ferry-pack-uploader-'));
    try {
      const storage = new FsStorage(root);
      const saved: { id: Id; bytes: number }[] = [];
      const uploader = new PackUploader(storage, Buffer.alloc(32, 1), new MasterIndex(), 1024 * 1024, (pack, bytes) => saved.push({ id: pack.id, bytes }));
      const stream = uploader.openStream(() => assert.fail('no failure'));
      void stream.append(Buffer.alloc(4096, 1));
      void stream.append(Buffer.alloc(10, 2));
      stream.sealed(id(1), [], 4106);
      void stream.append(Buffer.alloc(5, 3));
      stream.sealed(id(2), [], 5);
      await uploader.drainStreams();
      // Commits run side by side (two at a time): in either order.
      assert.deepEqual(saved.sort((x, y) => x.id.localeCompare(y.id)), [{ id: id(1), bytes: 4106 }, { id: id(2), bytes: 5 }]);
      assert.deepEqual(await storage.load(`data/00/${id(1)}`), Buffer.concat([Buffer.alloc(4096, 1), Buffer.alloc(10, 2)]));
      assert.deepEqual(await storage.load(`data/00/${id(2)}`), Buffer.alloc(5, 3));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
