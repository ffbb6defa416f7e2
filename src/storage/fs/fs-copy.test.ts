import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { IntegrityError, NotFoundError } from '../../core/errors.js';
import { FsObjectCopier } from './fs-copy.js';
import { FsStorage } from './fs-storage.js';

const sha = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

let dir: string;
beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'ferry-fs-copy-'))));
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('FsObjectCopier', () => {
  it('copies an object between two roots atomically, creating folders, and answers its size', async () => {
    const source = new FsStorage(join(dir, 'a'));
    const target = new FsStorage(join(dir, 'b'));
    const bytes = Buffer.from('pack bytes '.repeat(1000));
    const key = `data/${sha(bytes).slice(0, 2)}/${sha(bytes)}`;
    await source.save(`import/job/${key}`, bytes);
    const copier = new FsObjectCopier(join(dir, 'a'), join(dir, 'b'));
    assert.equal(await copier.copy(`import/job/${key}`, key, sha(bytes)), bytes.length);
    assert.deepEqual(await target.load(key), bytes);
    // A second copy replaces the object with the same bytes.
    assert.equal(await copier.copy(`import/job/${key}`, key, sha(bytes)), bytes.length);
    assert.deepEqual(await readdir(join(dir, 'b', 'data', key.slice(5, 7))), [sha(bytes)]);
  });

  it('stores nothing and leaves no temporary file when the bytes do not match the name, or the source is missing', async () => {
    const bytes = Buffer.from('damaged');
    const claimed = sha(Buffer.from('original'));
    const key = `index/${claimed}`;
    await new FsStorage(join(dir, 'a')).save(key, bytes);
    const copier = new FsObjectCopier(join(dir, 'a'), join(dir, 'b'));
    await assert.rejects(copier.copy(key, key, claimed), (err) => err instanceof IntegrityError && err.message.includes(`copying ${key}`));
    assert.deepEqual(await readdir(join(dir, 'b', 'index')), []);
    await assert.rejects(copier.copy(`index/${'0'.repeat(64)}`, key, claimed), NotFoundError);
    assert.deepEqual(await readdir(join(dir, 'b', 'index')), [], 'a failed copy leaves nothing behind');
  });
});
