import { createHash } from 'node:crypto';
import type { RandomSource } from '../../core/random.js';
import type { Role } from './roles.js';

/**
 * Bearer secrets: `fry_` + a three-letter kind + `_` + 32 random bytes in base64url (43 characters), e.g.
 * `fry_ten_Q2x…`. The prefix makes a leaked secret recognizable (secret scanners, logs); the service
 * stores only {@link hashSecret} of the whole string.
 */
export type SecretKind = Role | 'registration';

const PREFIX_BY_KIND: Readonly<Record<SecretKind, string>> = {
  admin: 'fry_adm_',
  'tenant-admin': 'fry_ten_',
  agent: 'fry_agt_',
  job: 'fry_job_',
  operator: 'fry_opr_',
  registration: 'fry_reg_',
};

const SECRET_BYTES = 32;
const SECRET_PATTERN = /^fry_(adm|ten|agt|job|opr|reg)_[A-Za-z0-9_-]{43}$/;

/** A new secret of `kind` with 256 random bits. */
export function newSecret(kind: SecretKind, random: RandomSource): string {
  return PREFIX_BY_KIND[kind] + random.bytes(SECRET_BYTES).toString('base64url');
}

/** The kind a well-formed secret announces, or undefined for anything that is not a Ferry secret. */
export function secretKind(secret: string): SecretKind | undefined {
  if (!SECRET_PATTERN.test(secret)) return undefined;
  const prefix = secret.slice(0, 8);
  return (Object.keys(PREFIX_BY_KIND) as SecretKind[]).find((kind) => PREFIX_BY_KIND[kind] === prefix);
}

/** What the database keeps of a secret: its SHA-256 in lowercase hex. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}
