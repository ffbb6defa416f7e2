import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { nativeScryptRomix } from '../os/posix-extras.js';
import { DEFAULT_KDF } from './key-slot.js';
import { nodeCryptoScrypt, scrypt } from './scrypt.js';

const MAXMEM = 256 * 1024 * 1024;

describe('scrypt', () => {
  it('has the native ROMix on x86-64 (else every key derivation would silently take the slower path)', () => {
    if (process.arch === 'x64') assert.equal(typeof nativeScryptRomix(), 'function');
  });

  it('gives the same bytes as node:crypto for arbitrary passwords, salts, lengths and small parameters', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'grapheme', maxLength: 20 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.integer({ min: 1, max: 80 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 3 }),
        async (password, salt, length, logN, r, p) => {
          const params = { N: 2 ** logN, r, p };
          assert.deepEqual(await scrypt(password, salt, length, params, MAXMEM), await nodeCryptoScrypt(password, salt, length, params, MAXMEM));
        },
      ),
      { seed: 42, numRuns: 40 },
    );
  });

  it('gives the same bytes as node:crypto with the default key slot parameters', async () => {
    const salt = Buffer.alloc(32, 7);
    assert.deepEqual(await scrypt('correct horse', salt, 32, DEFAULT_KDF, MAXMEM), await nodeCryptoScrypt('correct horse', salt, 32, DEFAULT_KDF, MAXMEM));
  });

  it('matches RFC 7914 test vector 2', async () => {
    const key = await scrypt('password', Buffer.from('NaCl'), 64, { N: 1024, r: 8, p: 16 }, MAXMEM);
    assert.equal(
      key.toString('hex'),
      'fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640',
    );
  });

  it('fails as node:crypto does when the parameters need more than maxmem', async () => {
    await assert.rejects(scrypt('pw', Buffer.alloc(8), 32, { N: 2 ** 16, r: 8, p: 1 }, 1024 * 1024), /memory|maxmem|Invalid scrypt/i);
  });

  it('the native ROMix refuses a buffer of partial lanes and parameters out of range', () => {
    const romix = nativeScryptRomix();
    if (!romix) return;
    assert.throws(() => romix(new Uint8Array(100), 1, 16), RangeError);
    assert.throws(() => romix(new Uint8Array(128), 1, 12), RangeError);
    assert.throws(() => romix(new Uint8Array(128), 0, 16), RangeError);
    assert.throws(() => romix(new Uint8Array(0), 1, 16), RangeError);
  });
});
