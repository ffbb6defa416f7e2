import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NotFoundError, PermanentError } from '../../core/errors.js';
import { MemoryStorage } from '../../storage/memory-storage.js';
import { listKeys, withoutOptionalMethods } from '../../storage/testing/conformance.js';
import { PrefixedStorage } from './prefixed-storage.js';

describe('PrefixedStorage', () => {
  const prefix = `import/${'j'.repeat(36)}/`;
  // Valid on its own (1024 characters, segments of at most 255), too long once prefixed.
  const longKey = `${'a'.repeat(255)}/${'b'.repeat(255)}/${'c'.repeat(255)}/${'d'.repeat(255)}`;

  it('maps keys under the prefix and lists them without it', async () => {
    const inner = new MemoryStorage();
    const storage = new PrefixedStorage(inner, prefix);
    await storage.save('data/ab/abc', Buffer.from('x'));
    assert.deepEqual(await listKeys(inner, ''), [`${prefix}data/ab/abc`]);
    assert.deepEqual(await listKeys(storage, 'data/'), ['data/ab/abc']);
    assert.equal((await storage.stat('data/ab/abc')).size, 1);
  });

  it('a valid key that the prefix makes too long is an absent object, never a storage failure', async () => {
    const storage = new PrefixedStorage(new MemoryStorage(), prefix);
    await assert.rejects(storage.load(longKey), NotFoundError);
    await assert.rejects(storage.load(longKey, { offset: 0, length: 1 }), NotFoundError);
    await assert.rejects(storage.stat(longKey), NotFoundError);
    await storage.remove(longKey);
    assert.deepEqual(await listKeys(storage, longKey.slice(0, 1000)), []);
    await assert.rejects(storage.save(longKey, Buffer.from('x')), PermanentError);
    await assert.rejects(storage.load('../escape'), PermanentError, 'an invalid key is still invalid');
    await assert.rejects(storage.loadInto?.(longKey, { offset: 0, length: 1 }, Buffer.alloc(1)) ?? Promise.resolve(), NotFoundError);
  });

  it('has loadInto exactly when the inner storage has it, reading the prefixed object', async () => {
    assert.equal(new PrefixedStorage(withoutOptionalMethods(new MemoryStorage()), prefix).loadInto, undefined);
    const inner = new MemoryStorage();
    await inner.save(`${prefix}data/ab/abc`, Buffer.from('xyz'));
    const target = Buffer.alloc(2);
    await new PrefixedStorage(inner, prefix).loadInto?.('data/ab/abc', { offset: 1, length: 2 }, target);
    assert.equal(target.toString(), 'yz');
  });
});
