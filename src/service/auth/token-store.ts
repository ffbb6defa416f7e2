import type { Clock } from '../../core/clock.js';
import { AuthenticationError, NotFoundError, UserError } from '../../core/errors.js';
import type { RandomSource } from '../../core/random.js';
import type { ServiceDatabase } from '../db/database.js';
import type { TokensTable } from '../db/schema.js';
import { isoTime, newRecordId } from '../ids.js';
import type { Principal } from './principal.js';
import { DEFAULT_TOKEN_LIFETIME_MS, MAX_TOKEN_LIFETIME_MS, isRole, type Role } from './roles.js';
import { hashSecret, newSecret, secretKind } from './secret-format.js';

/** What token functions need: the database (or a transaction on it), the clock and randomness. */
export interface TokenDeps {
  readonly db: ServiceDatabase;
  readonly clock: Clock;
  readonly random: RandomSource;
}

export interface TokenSpec {
  readonly role: Role;
  readonly tenantId?: string;
  readonly machineId?: string;
  readonly vaultId?: string;
  readonly jobId?: string;
  /** Defaults to the role's lifetime (roles.ts); at most MAX_TOKEN_LIFETIME_MS. */
  readonly lifetimeMs?: number;
  readonly createdByTokenId?: string;
}

/** A token as the API shows it: never its secret, which exists only in {@link IssuedToken}. */
export interface TokenRecord {
  readonly id: string;
  readonly role: Role;
  readonly tenantId: string | null;
  readonly machineId: string | null;
  readonly vaultId: string | null;
  readonly jobId: string | null;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly revokedAt: string | null;
}

/** A token just created, with its secret: shown once, then only its hash remains. */
export interface IssuedToken extends TokenRecord {
  readonly token: string;
}

/**
 * Creates a token: a new random secret (secret-format.ts) whose SHA-256 is stored with the role, scope
 * and expiry. Returns the secret once. Rejects a lifetime outside (0, MAX] with a `UserError`, and a scope
 * that names a missing tenant, machine or vault with the database's foreign-key error.
 */
export async function issueToken(deps: TokenDeps, spec: TokenSpec): Promise<IssuedToken> {
  const lifetime = spec.lifetimeMs ?? DEFAULT_TOKEN_LIFETIME_MS[spec.role];
  if (!(lifetime > 0 && lifetime <= MAX_TOKEN_LIFETIME_MS)) {
    throw new UserError(`a token lifetime must be more than 0 and at most ${MAX_TOKEN_LIFETIME_MS / 86_400_000} days`);
  }
  const now = deps.clock.now();
  const token = newSecret(spec.role, deps.random);
  const row: TokensTable = {
    id: newRecordId(deps.random),
    role: spec.role,
    token_hash: hashSecret(token),
    tenant_id: spec.tenantId ?? null,
    machine_id: spec.machineId ?? null,
    vault_id: spec.vaultId ?? null,
    job_id: spec.jobId ?? null,
    created_at: isoTime(now),
    expires_at: isoTime(now + lifetime),
    revoked_at: null,
    created_by_token_id: spec.createdByTokenId ?? null,
  };
  await deps.db.insertInto('tokens').values(row).execute();
  return { ...toTokenRecord(row), token };
}

/**
 * The principal a bearer secret stands for. Throws `AuthenticationError` when the secret is not a Ferry
 * token (a registration code is not one either), is unknown, revoked, or expired at `clock.now()`.
 */
export async function principalForSecret(deps: Pick<TokenDeps, 'db' | 'clock'>, secret: string): Promise<Principal> {
  const kind = secretKind(secret);
  if (kind === undefined || kind === 'registration') {
    throw new AuthenticationError('the bearer token is not a Ferry token (they start with fry_)');
  }
  const row = await deps.db.selectFrom('tokens').selectAll().where('token_hash', '=', hashSecret(secret)).executeTakeFirst();
  if (row === undefined || row.role !== kind || !isRole(row.role)) throw new AuthenticationError('unknown token: create a new one');
  if (row.revoked_at !== null) throw new AuthenticationError(`this token was revoked at ${row.revoked_at}`);
  if (row.expires_at <= isoTime(deps.clock.now())) throw new AuthenticationError(`this token expired at ${row.expires_at}`);
  return {
    tokenId: row.id,
    role: row.role,
    expiresAt: row.expires_at,
    ...(row.tenant_id !== null ? { tenantId: row.tenant_id } : {}),
    ...(row.machine_id !== null ? { machineId: row.machine_id } : {}),
    ...(row.vault_id !== null ? { vaultId: row.vault_id } : {}),
    ...(row.job_id !== null ? { jobId: row.job_id } : {}),
  };
}

/** The token with this id, or `NotFoundError`. */
export async function getToken(db: ServiceDatabase, id: string): Promise<TokenRecord> {
  const row = await db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst();
  if (row === undefined) throw new NotFoundError(`token ${id} not found`);
  return toTokenRecord(row);
}

/** Tokens, newest first; only those of `tenantId` when given. */
export async function listTokens(db: ServiceDatabase, filter: { tenantId?: string } = {}): Promise<TokenRecord[]> {
  let query = db.selectFrom('tokens').selectAll();
  if (filter.tenantId !== undefined) query = query.where('tenant_id', '=', filter.tenantId);
  const rows = await query.orderBy('created_at', 'desc').orderBy('id').execute();
  return rows.map(toTokenRecord);
}

/**
 * Revokes the token: from now on it authenticates nothing. Idempotent: revoking a revoked token keeps the
 * first revocation time. `NotFoundError` for an unknown id.
 */
export async function revokeToken(deps: Pick<TokenDeps, 'db' | 'clock'>, id: string): Promise<TokenRecord> {
  await deps.db.updateTable('tokens').set({ revoked_at: isoTime(deps.clock.now()) }).where('id', '=', id).where('revoked_at', 'is', null).execute();
  return getToken(deps.db, id);
}

/** True when at least one admin token exists (revoked or not): the service has started before. */
export async function anyAdminTokenExists(db: ServiceDatabase): Promise<boolean> {
  const row = await db.selectFrom('tokens').select('id').where('role', '=', 'admin').limit(1).executeTakeFirst();
  return row !== undefined;
}

function toTokenRecord(row: TokensTable): TokenRecord {
  if (!isRole(row.role)) throw new Error(`token ${row.id} has an unknown role ${row.role}`);
  return {
    id: row.id,
    role: row.role,
    tenantId: row.tenant_id,
    machineId: row.machine_id,
    vaultId: row.vault_id,
    jobId: row.job_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  };
}
