import { createCipheriv, createDecipheriv, randomBytes, randomFillSync } from 'node:crypto';
import { IntegrityError } from '../../core/errors.js';
import { nativeGcmOpenInto, nativeGcmSealInto } from '../os/posix-extras.js';

/** Overhead of a sealed message: 12-byte nonce before the ciphertext, 16-byte tag after it. */
export const SEAL_OVERHEAD = 28;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Encrypts and authenticates `plaintext` with AES-256-GCM under a fresh random nonce.
 * `aad` binds the message to its context (object kind, blob id) so one sealed object cannot stand in
 * for another. Returns `nonce ‖ ciphertext ‖ tag`.
 */
export function seal(key: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  if (aad) cipher.setAAD(aad);
  const out = Buffer.allocUnsafe(NONCE_BYTES + plaintext.length + TAG_BYTES);
  nonce.copy(out, 0);
  let written = NONCE_BYTES + cipher.update(plaintext).copy(out, NONCE_BYTES);
  written += cipher.final().copy(out, written);
  cipher.getAuthTag().copy(out, written);
  return out;
}

/**
 * Node's cipher returns a new buffer per update: fed in pieces of this size, those stay small heap
 * allocations that the allocator recycles, instead of one mapping per large message.
 */
const SEAL_PIECE = 64 * 1024;

/**
 * {@link seal}, writing `nonce ‖ ciphertext ‖ tag` into `target` at `offset` (which must have room for
 * `plaintext.length + SEAL_OVERHEAD` bytes) instead of a new buffer. Returns the bytes written. The
 * result is the same format as {@link seal}'s.
 */
export function sealInto(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array | undefined, target: Uint8Array, offset: number): number {
  const length = plaintext.length + SEAL_OVERHEAD;
  if (offset + length > target.length) throw new RangeError(`no room to seal ${plaintext.length} bytes at ${offset} of ${target.length}`);
  const nonce = target.subarray(offset, offset + NONCE_BYTES);
  randomFillSync(nonce);
  // The addon's call writes straight into `target`: no buffer per 64 KiB piece, no copy of each.
  const native = key.length === 32 ? nativeGcmSealInto() : undefined;
  if (native) return native(key, plaintext, aad, target, offset);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  if (aad) cipher.setAAD(aad);
  let at = offset + NONCE_BYTES;
  for (let from = 0; from < plaintext.length; from += SEAL_PIECE) {
    const piece = cipher.update(plaintext.subarray(from, Math.min(from + SEAL_PIECE, plaintext.length)));
    target.set(piece, at);
    at += piece.length;
  }
  const tail = cipher.final();
  target.set(tail, at);
  at += tail.length;
  target.set(cipher.getAuthTag(), at);
  return at + TAG_BYTES - offset;
}

/**
 * {@link open} into `target` at `offset` (room for `sealed.length - SEAL_OVERHEAD` bytes) instead of a
 * new buffer; returns the plaintext's length. On `IntegrityError` the bytes written there are garbage
 * and must not be used.
 */
export function openInto(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array | undefined, target: Uint8Array, offset: number): number {
  if (sealed.length < SEAL_OVERHEAD) throw new IntegrityError(`sealed message too short (${sealed.length} bytes)`);
  const length = sealed.length - SEAL_OVERHEAD;
  if (offset + length > target.length) throw new RangeError(`no room to open ${length} bytes at ${offset} of ${target.length}`);
  // The addon's call writes straight into `target`: no buffer per 64 KiB piece, no copy of each.
  const native = key.length === 32 ? nativeGcmOpenInto() : undefined;
  if (native) {
    const opened = native(key, sealed, aad, target, offset);
    if (opened < 0) throw new IntegrityError('authentication failed: the data was altered or belongs to another key');
    return opened;
  }
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, NONCE_BYTES));
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  if (aad) decipher.setAAD(aad);
  const body = sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES);
  let at = offset;
  for (let from = 0; from < body.length; from += SEAL_PIECE) {
    const piece = decipher.update(body.subarray(from, Math.min(from + SEAL_PIECE, body.length)));
    target.set(piece, at);
    at += piece.length;
  }
  try {
    const tail = decipher.final();
    target.set(tail, at);
    at += tail.length;
  } catch (cause) {
    throw new IntegrityError('authentication failed: the data was altered or belongs to another key', { cause });
  }
  return at - offset;
}

/**
 * Reverses {@link seal}. Throws `IntegrityError` when the message was altered, truncated, sealed with
 * another key or with another `aad`.
 */
export function open(key: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Buffer {
  if (sealed.length < SEAL_OVERHEAD) throw new IntegrityError(`sealed message too short (${sealed.length} bytes)`);
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, NONCE_BYTES));
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  if (aad) decipher.setAAD(aad);
  const body = decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES));
  try {
    const tail = decipher.final();
    return tail.length === 0 ? body : Buffer.concat([body, tail]);
  } catch (cause) {
    throw new IntegrityError('authentication failed: the data was altered or belongs to another key', { cause });
  }
}
