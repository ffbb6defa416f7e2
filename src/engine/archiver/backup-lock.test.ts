import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LockLostError } from '../repository/lock-lost-error.js';
import { backup } from './backup.js';
import { newRepository, reopen, seededBytes, tempDir, writeFiles, type TempDir } from '../repair/testing/repair-fixture.js';

describe('backup and its lock at the end', () => {
  let tmp: TempDir;
  before(async () => {
    tmp = await tempDir();
    await writeFiles(`${tmp.path}/src`, { 'a.bin': seededBytes(1, 20_000), 'b.txt': Buffer.from('b\n') });
  });
  after(() => tmp.cleanup());

  it('a final refresh that fails for a storage hiccup still saves the snapshot while the lock holds', async () => {
    const { storage, repo } = await newRepository();
    const lock = { assertHeld: () => undefined, refresh: () => Promise.reject(new Error('connection reset')) };
    const { id } = await backup(repo, { paths: [`${tmp.path}/src`], uid: 0, gid: 0, lock });
    assert.deepEqual((await (await reopen(storage)).listSnapshots()).map((r) => r.id), [id]);
  });

  it('a final refresh that finds the lock lost saves no snapshot', async () => {
    const { storage, repo } = await newRepository();
    const lost = new LockLostError('the repository lock was lost: another process removed it');
    const lock = { assertHeld: () => undefined, refresh: () => Promise.reject(lost) };
    await assert.rejects(backup(repo, { paths: [`${tmp.path}/src`], uid: 0, gid: 0, lock }), LockLostError);
    assert.deepEqual(await (await reopen(storage)).listSnapshots(), []);
  });

  it('a lock that went stale (assertHeld throws) after a failed refresh saves no snapshot', async () => {
    const { storage, repo } = await newRepository();
    let stale = false;
    const lock = {
      assertHeld: () => {
        if (stale) throw new LockLostError('the repository lock was lost: it was last refreshed 31 min ago');
      },
      refresh: () => {
        stale = true;
        return Promise.reject(new Error('connection reset'));
      },
    };
    await assert.rejects(backup(repo, { paths: [`${tmp.path}/src`], uid: 0, gid: 0, lock }), LockLostError);
    assert.deepEqual(await (await reopen(storage)).listSnapshots(), []);
  });

  it('a lock lost while files are read stops the backup at once with the loss, not as an interruption', async () => {
    const { storage, repo } = await newRepository();
    const controller = new AbortController();
    const lost = new LockLostError('the repository lock was lost: another process removed it');
    controller.abort(lost);
    const lock = { assertHeld: () => undefined, refresh: () => Promise.resolve(), signal: controller.signal };
    await assert.rejects(backup(repo, { paths: [`${tmp.path}/src`], uid: 0, gid: 0, lock, signal: new AbortController().signal }), (err) => err === lost);
    assert.deepEqual(await (await reopen(storage)).listSnapshots(), []);
  });
});
