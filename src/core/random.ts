import { randomBytes } from 'node:crypto';

/**
 * The source of randomness for secrets and ids. Service code takes a RandomSource instead of calling
 * `crypto.randomBytes`, so tests can make tokens and ids predictable.
 */
export interface RandomSource {
  /** `length` bytes; cryptographically strong in production. */
  bytes(length: number): Buffer;
}

/** Node's CSPRNG. */
export const systemRandom: RandomSource = { bytes: (length) => randomBytes(length) };
