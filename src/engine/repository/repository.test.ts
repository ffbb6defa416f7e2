import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { PermanentError, WrongPasswordError } from '../../core/errors.js';
import { objectKey } from '../../storage/layout.js';
import { MemoryStorage } from '../../storage/memory-storage.js';
import { FaultyStorage } from '../../storage/testing/faulty-storage.js';
import { createKeySlot, INSECURE_TEST_KDF } from '../crypto/key-slot.js';
import { MasterKey } from '../crypto/master-key.js';
import { sha256Id } from '../crypto/sha256.js';
import { encodeTree } from '../snapshot/tree-format.js';
import { Repository, type RepositoryContext } from './repository.js';

const context: RepositoryContext = { clock: { now: () => Date.UTC(2026, 10, 25) }, hostname: 'test-host', username: 'tester' };
const password = 'repository test password';
const small = { kdf: INSECURE_TEST_KDF, packSize: 64 * 1024, chunker: { minSize: 1024, avgSize: 4096, maxSize: 16384 } };

describe('Repository', () => {
  it('opens with the right password and refuses a wrong one', async () => {
    const storage = new MemoryStorage();
    const created = await Repository.init(storage, password, context, small);
    const opened = await Repository.open(storage, password, context);
    assert.equal(opened.config.id, created.config.id);
    await assert.rejects(Repository.open(storage, 'not it', context), WrongPasswordError);
  });

  it('a key slot left by an interrupted init does not stop the real one from opening', async () => {
    const storage = new MemoryStorage();
    const orphan = await createKeySlot(MasterKey.generate(), password, INSECURE_TEST_KDF, { created: new Date(0), hostname: 'h', username: 'u' });
    await storage.save(objectKey('key', sha256Id(orphan)), orphan);
    await storage.save(objectKey('key', sha256Id(Buffer.from('garbage'))), Buffer.from('garbage'));
    const created = await Repository.init(storage, password, context, small);
    const opened = await Repository.open(storage, password, context);
    assert.equal(opened.config.id, created.config.id);
  });

  it('a file whose bytes equal an encoded tree is stored apart from that tree', async () => {
    const repo = await Repository.init(new MemoryStorage(), password, context, small);
    const emptyTree = encodeTree([]);
    const writer = repo.createWriter();
    const tree = await writer.save('tree', emptyTree);
    const data = await writer.save('data', emptyTree);
    await writer.flush();
    assert.notEqual(tree.id, data.id);
    assert.ok(data.added);
    assert.deepEqual(await repo.loadBlob('data', data.id), emptyTree);
    assert.deepEqual(await repo.loadBlob('tree', tree.id), emptyTree);
  });

  it('a failed index write during a long backup rejects flush instead of crashing the process', async () => {
    const faulty = new FaultyStorage(new MemoryStorage());
    const repo = await Repository.init(faulty, password, context, small);
    faulty.addFault('save', { keyPrefix: 'index/' }).errorInstead(new PermanentError('disk full while saving index'));
    const writer = repo.createWriter();
    // 80 packs of ~64 KiB: the first index file is written in the middle, and fails.
    for (let i = 0; i < 80; i++) await writer.save('data', randomBytes(70 * 1024));
    await assert.rejects(writer.flush(), PermanentError);
  });

  it('blobs round trip through packs and the index survives reopening', async () => {
    const storage = new MemoryStorage();
    const repo = await Repository.init(storage, password, context, small);
    const writer = repo.createWriter();
    const blobs = Array.from({ length: 40 }, (_, i) => (i % 2 ? randomBytes(5000) : Buffer.alloc(5000, i)));
    const ids = [];
    for (const blob of blobs) ids.push((await writer.save('data', blob)).id);
    await writer.flush();
    const again = await Repository.open(storage, password, context);
    await again.loadIndex();
    for (const [i, id] of ids.entries()) assert.deepEqual(await again.loadBlob('data', id), blobs[i]);
    assert.ok(again.index.packs().size >= 2, 'several packs were written');
  });
});

describe('Repository format versions', () => {
  it('a config of an unknown version is reported as such, not as a wrong password', async () => {
    const storage = new MemoryStorage();
    const repo = await Repository.init(storage, password, context, small);
    const { sealJson } = await import('./sealed-json.js');
    await storage.save('config', sealJson(repo.key.encryptionKey, 'config', { ...repo.config, version: 2 }));
    await assert.rejects(Repository.open(storage, password, context), /format version 2 is not supported/);
  });
});

describe('RepositoryWriter guard', () => {
  it('a writer whose guard fails (a lost lock) writes no index file', async () => {
    const storage = new MemoryStorage();
    const repo = await Repository.init(storage, password, context, small);
    const writer = repo.createWriter({
      guard: () => {
        throw new Error('lock lost');
      },
    });
    await writer.save('data', randomBytes(5000));
    await assert.rejects(writer.flush(), /lock lost/);
    assert.deepEqual(await repo.listIds('index'), []);
  });
});

describe('loading the index', () => {
  it('ignores an unreadable index file that another file supersedes, and fails on one in effect', async () => {
    const storage = new MemoryStorage();
    const repo = await Repository.init(storage, password, context, small);
    const writer = repo.createWriter();
    const { id: blob } = await writer.save('data', randomBytes(5000));
    await writer.flush();
    const [old] = await repo.listIds('index');
    const { writeIndexFiles, packsInEffect, readIndexFiles } = await import('../index/index-set.js');
    const { files } = await readIndexFiles(storage, repo.key.encryptionKey);
    await writeIndexFiles(storage, repo.key.encryptionKey, [...packsInEffect(files).values()], [old!]);
    await storage.save(objectKey('index', old!), Buffer.from('damaged'));

    const reopened = await Repository.open(storage, password, context);
    const active = await reopened.loadIndex();
    assert.equal(active.length, 1);
    assert.ok(!active.includes(old!));
    assert.equal((await reopened.loadBlob('data', blob)).length, 5000);

    await storage.save(objectKey('index', sha256Id(Buffer.from('x'))), Buffer.from('damaged too'));
    await assert.rejects((await Repository.open(storage, password, context)).loadIndex(), /loading index/);
  });
});
