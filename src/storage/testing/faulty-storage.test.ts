import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PermanentError } from '../../core/errors.js';
import { MemoryStorage } from '../memory-storage.js';
import { listKeys, runStorageConformance, seededBytes, withoutOptionalMethods } from './conformance.js';
import { FaultyStorage } from './faulty-storage.js';

runStorageConformance('FaultyStorage without faults', async () => ({
  storage: new FaultyStorage(new MemoryStorage()),
  cleanup: async () => {},
}));

const setup = (): { inner: MemoryStorage; faulty: FaultyStorage } => {
  const inner = new MemoryStorage();
  return { inner, faulty: new FaultyStorage(inner) };
};

describe('FaultyStorage', () => {
  it('fails a save the given number of times, then passes through', async () => {
    const { inner, faulty } = setup();
    const full = new PermanentError('disk full');
    faulty.addFault('save').errorInstead(full).times(2);
    for (let i = 0; i < 2; i++) await assert.rejects(faulty.save('config', seededBytes(5)), (err) => err === full);
    assert.deepEqual(await listKeys(inner, ''), []);
    await faulty.save('config', seededBytes(5));
    assert.ok((await inner.load('config')).equals(seededBytes(5)));
    assert.deepEqual(faulty.calls, [
      { operation: 'save', key: 'config', fault: 'error' },
      { operation: 'save', key: 'config', fault: 'error' },
      { operation: 'save', key: 'config' },
    ]);
  });

  it('fires only on keys with the prefix, and every time when times is not given', async () => {
    const { inner, faulty } = setup();
    await inner.save('data/ab/1', seededBytes(3));
    await inner.save('index/1', seededBytes(3));
    const fault = faulty.addFault('load', { keyPrefix: 'data/' }).errorInstead(new Error('timeout'));
    for (let i = 0; i < 5; i++) await assert.rejects(faulty.load('data/ab/1'), /timeout/);
    assert.ok((await faulty.load('index/1')).equals(seededBytes(3)));
    assert.equal(fault.remaining, Number.POSITIVE_INFINITY);
    faulty.clearFaults();
    assert.ok((await faulty.load('data/ab/1')).equals(seededBytes(3)));
  });

  it('fails stat, list and remove', async () => {
    const { inner, faulty } = setup();
    await inner.save('locks/l', seededBytes(3));
    for (const operation of ['stat', 'list', 'remove'] as const) {
      faulty.addFault(operation).errorInstead(new Error(`${operation} failed`)).times(1);
    }
    await assert.rejects(faulty.stat('locks/l'), /stat failed/);
    await assert.rejects(faulty.list('locks/', () => undefined), /list failed/);
    await assert.rejects(faulty.remove('locks/l'), /remove failed/);
    assert.deepEqual(await listKeys(faulty, 'locks/'), ['locks/l'], 'the failed remove removed nothing');
    await faulty.remove('locks/l');
    await assert.rejects(faulty.stat('locks/l'), /not found/);
  });

  it('has loadInto exactly when the inner storage has it, and load faults fire on it', async () => {
    assert.equal(new FaultyStorage(withoutOptionalMethods(new MemoryStorage())).loadInto, undefined);
    const { inner, faulty } = setup();
    const data = seededBytes(101);
    await inner.save('data/ab/1', data);
    faulty.addFault('load', { keyPrefix: 'data/' }).errorInstead(new Error('timeout')).times(1);
    const target = Buffer.alloc(101);
    await assert.rejects(faulty.loadInto?.('data/ab/1', { offset: 0, length: 101 }, target) ?? Promise.resolve(), /timeout/);
    faulty.addFault('load').corruptLoad().times(1);
    await faulty.loadInto?.('data/ab/1', { offset: 0, length: 101 }, target);
    assert.equal(target[50], (data[50] ?? 0) ^ 0xff, 'the middle byte is flipped');
    await faulty.loadInto?.('data/ab/1', { offset: 0, length: 101 }, target);
    assert.ok(target.equals(data));
    assert.deepEqual(faulty.calls.map((call) => call.fault ?? 'none'), ['error', 'corrupt', 'none']);
  });

  it('uses faults in the order added, each until it is spent', async () => {
    const { faulty } = setup();
    faulty.addFault('stat').errorInstead(new Error('first')).times(1);
    faulty.addFault('stat').errorInstead(new Error('second')).times(2);
    await assert.rejects(faulty.stat('config'), /first/);
    await assert.rejects(faulty.stat('config'), /second/);
    await assert.rejects(faulty.stat('config'), /second/);
    await assert.rejects(faulty.stat('config'), /not found/);
  });

  it('without an effect, a fault throws a generic error naming the call', async () => {
    const { faulty } = setup();
    faulty.addFault('remove').times(1);
    await assert.rejects(faulty.remove('index/x'), /injected remove fault on "index\/x"/);
    await faulty.remove('index/x');
  });

  it('corruptLoad flips one byte of what load returns, not of the stored object', async () => {
    const { inner, faulty } = setup();
    const data = seededBytes(101);
    await inner.save('data/ab/1', data);
    faulty.addFault('load').corruptLoad().times(1);
    const damaged = await faulty.load('data/ab/1');
    assert.equal(damaged.length, data.length);
    assert.equal([...damaged].filter((byte, i) => byte !== data[i]).length, 1);
    assert.ok((await faulty.load('data/ab/1')).equals(data));
    assert.equal(faulty.calls[0]?.fault, 'corrupt');
  });

  it('truncateSave stores only the first bytes and reports success', async () => {
    const { inner, faulty } = setup();
    const data = seededBytes(100);
    faulty.addFault('save', { keyPrefix: 'data/' }).truncateSave(10).times(1);
    await faulty.save('data/ab/1', data, { length: 100 });
    assert.ok((await inner.load('data/ab/1')).equals(data.subarray(0, 10)));
    await faulty.save('data/ab/1', data, { length: 100 });
    assert.ok((await inner.load('data/ab/1')).equals(data));
  });

  it('refuses nonsense settings', () => {
    const { faulty } = setup();
    assert.throws(() => faulty.addFault('save').times(0), RangeError);
    assert.throws(() => faulty.addFault('save').truncateSave(-1), RangeError);
  });
});
