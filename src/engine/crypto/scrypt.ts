import { pbkdf2Sync, scrypt as nodeScrypt } from 'node:crypto';
import { nativeScryptRomix } from '../os/posix-extras.js';

export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/**
 * scrypt (RFC 7914) of `password` (UTF-8) and `salt`, `length` bytes: the same bytes as node:crypto's
 * scrypt. With the native addon, ROMix (the memory-hard part, nearly all of the work) runs in the addon's
 * SSE2 Salsa20/8 on libuv's thread pool, about a quarter less CPU than OpenSSL's (see
 * native/scrypt_romix.h); the two PBKDF2-HMAC-SHA256 passes around it are one iteration each.
 * Without the addon (or off x86-64), node:crypto's scrypt. `maxmem` bounds the memory either way.
 */
export async function scrypt(password: string, salt: Uint8Array, length: number, params: ScryptParams, maxmem: number): Promise<Buffer> {
  const { N, r, p } = params;
  const romix = nativeScryptRomix();
  if (romix && 128 * N * r + 128 * r * p <= maxmem) {
    const lanes = pbkdf2Sync(password, salt, 1, 128 * r * p, 'sha256');
    await romix(lanes, r, N);
    return pbkdf2Sync(password, lanes, 1, length, 'sha256');
  }
  return nodeCryptoScrypt(password, salt, length, params, maxmem);
}

/** node:crypto's scrypt (OpenSSL's): the fallback, and what tests hold the native one to. */
export function nodeCryptoScrypt(password: string, salt: Uint8Array, length: number, params: ScryptParams, maxmem: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    nodeScrypt(password, salt, length, { ...params, maxmem }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}
