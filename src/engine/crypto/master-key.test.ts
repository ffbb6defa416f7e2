import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MASTER_SECRET_BYTES, MasterKey } from './master-key.js';

fc.configureGlobal({ seed: 42, numRuns: 100 });

const secretArb = fc.uint8Array({ minLength: MASTER_SECRET_BYTES, maxLength: MASTER_SECRET_BYTES });
const derived = (k: MasterKey): Buffer[] => [k.encryptionKey, k.contentIdKey, k.chunkerSecret];

describe('MasterKey', () => {
  it('derives the same keys from the same secret', () => {
    fc.assert(
      fc.property(secretArb, (secret) => {
        assert.deepEqual(derived(MasterKey.fromSecret(secret)), derived(MasterKey.fromSecret(Buffer.from(secret))));
      }),
    );
  });

  it('derives three distinct 32-byte keys, none equal to the secret', () => {
    fc.assert(
      fc.property(secretArb, (secret) => {
        const keys = derived(MasterKey.fromSecret(secret));
        for (const key of keys) assert.equal(key.length, 32);
        const hex = new Set([Buffer.from(secret), ...keys].map((b) => b.toString('hex')));
        assert.equal(hex.size, 4);
      }),
    );
  });

  it('derives different keys from different secrets', () => {
    fc.assert(
      fc.property(secretArb, secretArb, (a, b) => {
        fc.pre(!Buffer.from(a).equals(Buffer.from(b)));
        const [ka, kb] = [MasterKey.fromSecret(a), MasterKey.fromSecret(b)];
        derived(ka).forEach((key, i) => assert.notDeepEqual(key, derived(kb)[i]));
      }),
    );
  });

  it('keeps its own copy of the secret', () => {
    const secret = Buffer.alloc(32, 3);
    const key = MasterKey.fromSecret(secret);
    const before = derived(key).map((b) => Buffer.from(b));
    secret.fill(4);
    assert.deepEqual(key.secret, Buffer.alloc(32, 3));
    assert.deepEqual(derived(key), before);
  });

  // HKDF-SHA-256 (RFC 5869, empty salt) of the secret 00 01 … 1f, computed independently. The derivation is part
  // of the repository format: a change here makes every existing repository unreadable.
  it('matches the format’s known-answer vectors', () => {
    const key = MasterKey.fromSecret(Buffer.from(Array.from({ length: 32 }, (_, i) => i)));
    assert.equal(key.encryptionKey.toString('hex'), '195a6ac5c9860afaed8bea101c3fea259b68ed602db68a1ff77a311d399354ff');
    assert.equal(key.contentIdKey.toString('hex'), '68bf20b5d55310f11015ed987d2f8a7305336fcc9290bafe365b858024791886');
    assert.equal(key.chunkerSecret.toString('hex'), '19d64b3868cb33f96f0da169ec47c91e915b5fef80ec3314cfaa348b0991a590');
  });

  it('generates a fresh random secret each time', () => {
    const a = MasterKey.generate();
    const b = MasterKey.generate();
    assert.equal(a.secret.length, MASTER_SECRET_BYTES);
    assert.notDeepEqual(a.secret, b.secret);
    assert.deepEqual(derived(MasterKey.fromSecret(a.secret)), derived(a));
  });

  for (const length of [0, 16, 31, 33, 64]) {
    it(`refuses a secret of ${length} bytes`, () => assert.throws(() => MasterKey.fromSecret(Buffer.alloc(length)), RangeError));
  }
});
