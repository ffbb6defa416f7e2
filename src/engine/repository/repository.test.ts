import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { IntegrityError, PermanentError, UserError, WrongPasswordError } from '../../core/errors.js';
import type { Id } from '../../core/ids.js';
import { objectKey } from '../../storage/layout.js';
import { MemoryStorage } from '../../storage/memory-storage.js';
import { FaultyStorage } from '../../storage/testing/faulty-storage.js';
import { createKeySlot, INSECURE_TEST_KDF } from '../crypto/key-slot.js';
import { MasterKey } from '../crypto/master-key.js';
import { sha256Id } from '../crypto/sha256.js';
import { encodeTree } from '../snapshot/tree-format.js';
import { Repository, UnreadableSnapshotError, type RepositoryContext } from './repository.js';

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

describe('one damaged snapshot or index file is that file\'s problem', () => {
  /** A repository with three snapshots a minute apart; returns their ids oldest first. */
  async function threeSnapshots(storage: MemoryStorage | FaultyStorage): Promise<{ repo: Repository; ids: Id[] }> {
    const repo = await Repository.init(storage, password, context, small);
    const writer = repo.createWriter();
    const { id: tree } = await writer.save('tree', encodeTree([]));
    await writer.flush();
    const ids: Id[] = [];
    for (let i = 0; i < 3; i++) {
      const time = new Date(Date.UTC(2026, 10, 25, 12, i)).toISOString();
      ids.push(await repo.saveSnapshot({ version: 1, time, tree, paths: ['/data'], hostname: 'h', username: 'u', uid: 0, gid: 0, tags: [], excludes: [], skipped: [] }));
    }
    return { repo, ids };
  }

  /** Flips one bit in the middle of a stored object, as a failing disk would. */
  async function flipBit(storage: MemoryStorage, key: string): Promise<void> {
    const bytes = Buffer.from(await storage.load(key));
    bytes[bytes.length >> 1]! ^= 0x10;
    await storage.remove(key);
    await storage.save(key, bytes);
  }

  it('readSnapshots lists the snapshots that open and names the damaged one; listSnapshots still refuses', async () => {
    const storage = new MemoryStorage();
    const { ids } = await threeSnapshots(storage);
    await flipBit(storage, objectKey('snapshot', ids[1]!));
    const repo = await Repository.open(storage, password, context);
    const { snapshots, unreadable } = await repo.readSnapshots();
    assert.deepEqual(snapshots.map((s) => s.id), [ids[0], ids[2]]);
    assert.deepEqual(unreadable.map((u) => u.id), [ids[1]]);
    assert.ok(unreadable[0]!.error instanceof IntegrityError);
    assert.match(unreadable[0]!.error.message, /^authentication failed/);
    await assert.rejects(repo.listSnapshots(), (err: Error) => err instanceof IntegrityError && err.message.startsWith(`loading snapshot ${ids[1]!.slice(0, 8)}`));
  });

  it('a storage failure that is not damage still fails the listing', async () => {
    const storage = new FaultyStorage(new MemoryStorage());
    const { ids } = await threeSnapshots(storage);
    storage.addFault('load', { keyPrefix: objectKey('snapshot', ids[0]!) }).errorInstead(new PermanentError('permission denied'));
    await assert.rejects((await Repository.open(storage, password, context)).readSnapshots(), /permission denied/);
  });

  it('findSnapshot: latest is the newest readable one; a damaged one named by id or prefix is an UnreadableSnapshotError', async () => {
    const storage = new MemoryStorage();
    const { ids } = await threeSnapshots(storage);
    await flipBit(storage, objectKey('snapshot', ids[2]!));
    const repo = await Repository.open(storage, password, context);
    assert.equal((await repo.findSnapshot('latest')).id, ids[1]);
    assert.equal((await repo.findSnapshot(ids[0]!)).id, ids[0]);
    assert.equal((await repo.findSnapshot(ids[0]!.slice(0, 6))).id, ids[0]);
    for (const ref of [ids[2]!, ids[2]!.slice(0, 8)]) {
      await assert.rejects(repo.findSnapshot(ref), (err: Error) => err instanceof UnreadableSnapshotError && err.snapshotId === ids[2]);
    }
  });

  it('a prefix shared by a readable and a damaged snapshot is ambiguous, not the readable one', async () => {
    const storage = new MemoryStorage();
    const repo = await Repository.init(storage, password, context, small);
    const tree = sha256Id(Buffer.from('t'));
    const snapshot = (minute: number) => ({ version: 1 as const, time: new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString(), tree, paths: ['/'], hostname: 'h', username: 'u', uid: 0, gid: 0, tags: [], excludes: [], skipped: [] });
    // Save snapshots until two ids share their first four hex digits (a few hundred, by the birthday bound).
    const byPrefix = new Map<string, Id>();
    let pair: [Id, Id] | undefined;
    for (let minute = 0; !pair; minute++) {
      const id = await repo.saveSnapshot(snapshot(minute));
      const other = byPrefix.get(id.slice(0, 4));
      if (other) pair = [other, id];
      else byPrefix.set(id.slice(0, 4), id);
    }
    await flipBit(storage, objectKey('snapshot', pair[1]));
    await assert.rejects(repo.findSnapshot(pair[0].slice(0, 4)), (err: Error) => err instanceof UserError && /ambiguous/.test(err.message));
    const reopened = await Repository.open(storage, password, context);
    const all = await reopened.resolveSnapshotIds([pair[1].slice(0, 12)]);
    assert.deepEqual(all, [pair[1]], 'forget by id reaches a damaged snapshot without opening it');
  });

  it('loadReadableIndex leaves out a damaged index file in effect and names it; loadIndex still refuses', async () => {
    const storage = new MemoryStorage();
    const repo = await Repository.init(storage, password, context, small);
    const first = repo.createWriter();
    const { id: kept } = await first.save('data', randomBytes(5000));
    await first.flush();
    const [keptIndex] = await repo.listIds('index');
    const second = repo.createWriter();
    const { id: lost } = await second.save('data', randomBytes(5000));
    await second.flush();
    const damagedIndex = (await repo.listIds('index')).find((id) => id !== keptIndex)!;
    await flipBit(storage, objectKey('index', damagedIndex));

    const reopened = await Repository.open(storage, password, context);
    const unreadable = await reopened.loadReadableIndex();
    assert.deepEqual(unreadable.map((u) => u.id), [damagedIndex]);
    assert.equal((await reopened.loadBlob('data', kept)).length, 5000);
    assert.equal(reopened.index.has(lost), false);
    await assert.rejects((await Repository.open(storage, password, context)).loadIndex(), /loading index/);
  });

  it('loadReadableIndex fails on a storage error that is not damage', async () => {
    const storage = new FaultyStorage(new MemoryStorage());
    const repo = await Repository.init(storage, password, context, small);
    const writer = repo.createWriter();
    await writer.save('data', randomBytes(5000));
    await writer.flush();
    storage.addFault('load', { keyPrefix: 'index/' }).errorInstead(new PermanentError('permission denied'));
    await assert.rejects((await Repository.open(storage, password, context)).loadReadableIndex(), /permission denied/);
  });
});
