import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InterruptedError } from '../core/errors.js';
import { InterruptibleStorage } from './interruptible-storage.js';
import { MemoryStorage } from './memory-storage.js';
import { runStorageConformance, withoutOptionalMethods } from './testing/conformance.js';

runStorageConformance('InterruptibleStorage (not interrupted)', async () => ({
  storage: new InterruptibleStorage(new MemoryStorage(), new AbortController().signal),
  cleanup: async () => {},
}));

describe('InterruptibleStorage once interrupted', () => {
  it('refuses new work with InterruptedError but still removes lock objects', async () => {
    const inner = new MemoryStorage();
    const controller = new AbortController();
    const storage = new InterruptibleStorage(inner, controller.signal);
    await storage.save('locks/aa', Buffer.from('lock'));
    await storage.save('data/aa/aa', Buffer.from('pack'));
    controller.abort();
    await assert.rejects(storage.save('snapshots/bb', Buffer.from('x')), InterruptedError);
    await assert.rejects(storage.load('data/aa/aa'), InterruptedError);
    await assert.rejects(storage.stat('data/aa/aa'), InterruptedError);
    await assert.rejects(storage.list('data/', () => undefined), InterruptedError);
    await assert.rejects(storage.remove('data/aa/aa'), InterruptedError);
    await storage.remove('locks/aa');
    await assert.rejects(inner.stat('locks/aa'));
    await inner.stat('data/aa/aa');
    await storage.close();
  });

  it('has loadInto exactly when the inner storage has it, and refuses it once interrupted', async () => {
    const inner = new MemoryStorage();
    await inner.save('data/aa/aa', Buffer.from('pack'));
    assert.equal(new InterruptibleStorage(withoutOptionalMethods(inner), new AbortController().signal).loadInto, undefined);
    const controller = new AbortController();
    const storage = new InterruptibleStorage(inner, controller.signal);
    const target = Buffer.alloc(4);
    await storage.loadInto?.('data/aa/aa', { offset: 0, length: 4 }, target);
    assert.equal(target.toString(), 'pack');
    controller.abort();
    await assert.rejects(storage.loadInto?.('data/aa/aa', { offset: 0, length: 4 }, target) ?? Promise.resolve(), InterruptedError);
  });

  it('stops a listing under way', async () => {
    const controller = new AbortController();
    const storage = new InterruptibleStorage(new MemoryStorage(), controller.signal);
    for (const key of ['index/a', 'index/b', 'index/c']) await storage.save(key, Buffer.from(key));
    let seen = 0;
    await assert.rejects(
      storage.list('index/', () => {
        seen++;
        controller.abort();
      }),
      InterruptedError,
    );
    assert.equal(seen, 1);
  });
});
