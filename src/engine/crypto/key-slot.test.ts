import assert from 'node:assert/strict';
import { scryptSync } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { assertRejectsIntegrity, flipBit } from '../testing/arbitraries.js';
import { spawnSync } from 'node:child_process';
import { createKeySlot, DEFAULT_KDF, INSECURE_TEST_KDF, openKeySlot, parseKeySlot, PREVIOUS_DEFAULT_KDF, type KeySlotFile } from './key-slot.js';
import { seal } from './aead.js';
import { MasterKey } from './master-key.js';

// scrypt is slow even with the test parameters: keep the property runs few.
fc.configureGlobal({ seed: 42, numRuns: 4 });

const META = { created: new Date('2024-05-06T07:08:09.010Z'), hostname: 'host', username: 'user' };
const MASTER = MasterKey.fromSecret(Buffer.alloc(32, 0x5a));
const PASSWORD = 'correct horse battery staple';

const slotPromise = createKeySlot(MASTER, PASSWORD, INSECURE_TEST_KDF, META);
type MutableSlot = { -readonly [K in keyof KeySlotFile]: unknown } & { kdf: Record<string, unknown> };

/** The shared slot as a plain object, to tamper with. */
async function slotJson(): Promise<MutableSlot> {
  return JSON.parse((await slotPromise).toString('utf8')) as MutableSlot;
}

const bytesOf = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

describe('createKeySlot/openKeySlot', () => {
  it('round trips the master secret for arbitrary passwords', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), async (password, secret) => {
        const master = MasterKey.fromSecret(secret);
        const slot = await createKeySlot(master, password, INSECURE_TEST_KDF, META);
        const opened = await openKeySlot(slot, password);
        assert.ok(opened);
        assert.deepEqual(opened.secret, master.secret);
        assert.deepEqual(opened.encryptionKey, master.encryptionKey);
      }),
    );
  });

  it('writes a version 1 JSON document with the KDF parameters and metadata', async () => {
    const file = parseKeySlot(await slotPromise);
    assert.equal(file.version, 1);
    assert.deepEqual(
      { algorithm: file.kdf.algorithm, N: file.kdf.N, r: file.kdf.r, p: file.kdf.p },
      { algorithm: 'scrypt', ...INSECURE_TEST_KDF },
    );
    assert.equal(Buffer.from(file.kdf.salt, 'base64').length, 32);
    assert.deepEqual([file.created, file.hostname, file.username], ['2024-05-06T07:08:09.010Z', 'host', 'user']);
    assert.ok(!(await slotPromise).includes(MASTER.secret.toString('base64')), 'the secret is not stored in the clear');
  });

  it('uses a fresh salt each time, so two slots of the same key and password differ', async () => {
    const a = parseKeySlot(await slotPromise);
    const b = parseKeySlot(await createKeySlot(MASTER, PASSWORD, INSECURE_TEST_KDF, META));
    assert.notEqual(a.kdf.salt, b.kdf.salt);
    assert.notEqual(a.wrapped, b.wrapped);
  });

  it('returns undefined for a wrong password', async () => {
    const slot = await slotPromise;
    for (const wrong of ['', 'correct horse battery stapl', 'Correct horse battery staple', `${PASSWORD} `]) {
      assert.equal(await openKeySlot(slot, wrong), undefined, JSON.stringify(wrong));
    }
  });

  it('normalizes passwords to NFC: the NFD and NFC forms of "é" open the same slot', async () => {
    const nfc = 'caf\u00e9';
    const nfd = 'cafe\u0301';
    assert.notEqual(nfc, nfd);
    for (const [made, opened] of [[nfc, nfd], [nfd, nfc]] as const) {
      const slot = await createKeySlot(MASTER, made, INSECURE_TEST_KDF, META);
      assert.deepEqual((await openKeySlot(slot, opened))?.secret, MASTER.secret);
    }
  });
});

describe('openKeySlot on a damaged or hostile slot', () => {
  // The code documents: IntegrityError when the file is not a valid key slot, undefined when it does not open.
  const invalid: [string, (s: MutableSlot) => unknown][] = [
    ['version 2', (s) => ({ ...s, version: 2 })],
    ['version "1"', (s) => ({ ...s, version: '1' })],
    ['no version', ({ version: _, ...rest }) => rest],
    ['another KDF', (s) => ({ ...s, kdf: { ...s.kdf, algorithm: 'argon2id' } })],
    ['no kdf', ({ kdf: _, ...rest }) => rest],
    ['N = 1', (s) => ({ ...s, kdf: { ...s.kdf, N: 1 } })],
    ['N = 0', (s) => ({ ...s, kdf: { ...s.kdf, N: 0 } })],
    ['N not a power of two', (s) => ({ ...s, kdf: { ...s.kdf, N: 1000 } })],
    ['N above 2^24', (s) => ({ ...s, kdf: { ...s.kdf, N: 2 ** 25 } })],
    ['N fractional', (s) => ({ ...s, kdf: { ...s.kdf, N: 1024.5 } })],
    ['N as a string', (s) => ({ ...s, kdf: { ...s.kdf, N: '1024' } })],
    ['N negative', (s) => ({ ...s, kdf: { ...s.kdf, N: -1024 } })],
    ['r = 0', (s) => ({ ...s, kdf: { ...s.kdf, r: 0 } })],
    ['r = 65', (s) => ({ ...s, kdf: { ...s.kdf, r: 65 } })],
    ['p = 0', (s) => ({ ...s, kdf: { ...s.kdf, p: 0 } })],
    ['p = 17', (s) => ({ ...s, kdf: { ...s.kdf, p: 17 } })],
    ['p fractional', (s) => ({ ...s, kdf: { ...s.kdf, p: 1.5 } })],
    ['no salt', (s) => ({ ...s, kdf: { ...s.kdf, salt: undefined } })],
    ['salt as a number', (s) => ({ ...s, kdf: { ...s.kdf, salt: 5 } })],
    ['no wrapped secret', ({ wrapped: _, ...rest }) => rest],
    ['wrapped as an array', (s) => ({ ...s, wrapped: [1, 2, 3] })],
    ['null', () => null],
    ['an array', () => []],
    ['a number', () => 1],
  ];
  for (const [name, tamper] of invalid) {
    it(`throws IntegrityError for ${name}`, async () => {
      await assertRejectsIntegrity(openKeySlot(bytesOf(tamper(await slotJson())), PASSWORD));
    });
  }

  const notJson: [string, Buffer][] = [
    ['empty bytes', Buffer.alloc(0)],
    ['truncated JSON', Buffer.from('{"version":1,')],
    ['binary garbage', Buffer.from([0xff, 0xfe, 0x00, 0x7b])],
  ];
  for (const [name, bytes] of notJson) {
    it(`throws IntegrityError for ${name}`, () => assertRejectsIntegrity(openKeySlot(bytes, PASSWORD)));
  }

  it('throws IntegrityError for the slot truncated anywhere', async () => {
    const slot = await slotPromise;
    // Every prefix that ends before the closing brace is invalid JSON.
    for (const keep of [0, 1, 10, slot.length >> 1, slot.lastIndexOf('}')]) {
      await assertRejectsIntegrity(openKeySlot(slot.subarray(0, keep), PASSWORD), `${keep} bytes`);
    }
  });

  // scrypt itself refuses N ≥ 2^(16·r) (OpenSSL's limit), although parseKeySlot accepts it. Such a slot is
  // "not a valid key slot", so the documented answer is IntegrityError — not a raw crypto error that
  // aborts Repository.open before it tries the other slots.
  const refusedByScrypt: [string, { N: number; r: number; p: number }][] = [
    ['N = 2^16 with r = 1', { N: 2 ** 16, r: 1, p: 1 }],
    ['N = 2^17 with r = 1', { N: 2 ** 17, r: 1, p: 1 }],
  ];
  for (const [name, params] of refusedByScrypt) {
    it(`throws IntegrityError (not a crypto error) for in-range parameters scrypt refuses: ${name}`, async () => {
      const s = await slotJson();
      await assertRejectsIntegrity(openKeySlot(bytesOf({ ...s, kdf: { ...s.kdf, ...params } }), PASSWORD));
    });
  }

  const wrapped = (s: MutableSlot): Buffer => Buffer.from(s.wrapped as string, 'base64');
  const doesNotOpen: [string, (s: MutableSlot) => unknown][] = [
    ['a bit flipped in the wrapped secret', (s) => ({ ...s, wrapped: flipBit(wrapped(s), 100).toString('base64') })],
    ['a bit flipped in the wrapped tag', (s) => ({ ...s, wrapped: flipBit(wrapped(s), wrapped(s).length * 8 - 1).toString('base64') })],
    ['the wrapped secret truncated', (s) => ({ ...s, wrapped: wrapped(s).subarray(0, 40).toString('base64') })],
    ['the wrapped secret shorter than nonce and tag', (s) => ({ ...s, wrapped: wrapped(s).subarray(0, 10).toString('base64') })],
    ['an empty wrapped secret', (s) => ({ ...s, wrapped: '' })],
    ['a byte appended to the wrapped secret', (s) => ({ ...s, wrapped: Buffer.concat([wrapped(s), Buffer.of(0)]).toString('base64') })],
    ['another salt', (s) => ({ ...s, kdf: { ...s.kdf, salt: Buffer.alloc(32, 1).toString('base64') } })],
    ['another N', (s) => ({ ...s, kdf: { ...s.kdf, N: 2 ** 11 } })],
    ['another r', (s) => ({ ...s, kdf: { ...s.kdf, r: 4 } })],
  ];
  for (const [name, tamper] of doesNotOpen) {
    it(`returns undefined for ${name}`, async () => {
      assert.equal(await openKeySlot(bytesOf(tamper(await slotJson())), PASSWORD), undefined);
    });
  }

  it('throws IntegrityError when the slot opens but holds a secret of the wrong length', async () => {
    // Only someone who knows the password can write this; still, it is not a valid key slot.
    const s = await slotJson();
    const kek = scryptSync(PASSWORD, Buffer.from(s.kdf.salt as string, 'base64'), 32, INSECURE_TEST_KDF);
    const short = seal(kek, Buffer.alloc(16, 7), Buffer.from('ferry key slot v1')).toString('base64');
    await assertRejectsIntegrity(openKeySlot(bytesOf({ ...s, wrapped: short }), PASSWORD));
  });

  it('still opens when only the unauthenticated metadata changed', async () => {
    const s = await slotJson();
    const opened = await openKeySlot(bytesOf({ ...s, hostname: 'elsewhere', created: 'yesterday' }), PASSWORD);
    assert.deepEqual(opened?.secret, MASTER.secret);
  });
});

describe('the KDF policy for new key slots', () => {
  const MiB = 1024 * 1024;
  const work = (kdf: { N: number; r: number; p: number }): number => kdf.N * kdf.r * kdf.p;

  it('caps scrypt memory at 32 MiB, yet costs each guess at least the work of the previous default', () => {
    assert.ok(128 * DEFAULT_KDF.N * DEFAULT_KDF.r <= 32 * MiB, 'memory of the scrypt table');
    assert.ok(work(DEFAULT_KDF) >= work(PREVIOUS_DEFAULT_KDF), 'sequential work per guess');
    // No weaker than restic's calibration within 60 MiB on the machines Ferry is measured on (N = 2^15, r = 8, p = 5).
    assert.ok(DEFAULT_KDF.N >= 2 ** 15 && work(DEFAULT_KDF) >= 2 ** 15 * 8 * 5);
  });

  it('keeps a derivation with the default parameters within 32 MiB of memory beyond Node itself', () => {
    // A child process, so its peak RSS is the derivation's alone.
    const script = `
      const { scryptSync } = require('node:crypto');
      const before = process.resourceUsage().maxRSS;
      scryptSync('pw', Buffer.alloc(32), 32, { N: ${DEFAULT_KDF.N}, r: ${DEFAULT_KDF.r}, p: ${DEFAULT_KDF.p}, maxmem: 256 * 1024 * 1024 });
      process.stdout.write(String(process.resourceUsage().maxRSS - before));`;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    const grownKiB = Number(child.stdout);
    assert.ok(grownKiB > 0 && grownKiB <= 40 * 1024, `peak RSS grew by ${grownKiB} KiB`);
  });

  it('still opens a slot written with the previous default (its parameters are stored in the slot)', async () => {
    const slot = await createKeySlot(MASTER, PASSWORD, PREVIOUS_DEFAULT_KDF, META);
    assert.deepEqual(
      (({ N, r, p }) => ({ N, r, p }))(parseKeySlot(slot).kdf),
      PREVIOUS_DEFAULT_KDF,
    );
    assert.deepEqual((await openKeySlot(slot, PASSWORD))?.secret, MASTER.secret);
  });
});
