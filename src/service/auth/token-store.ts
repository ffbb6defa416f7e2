import type { Clock } from '../../core/clock.js';
import { AuthenticationError, ForbiddenError, NotFoundError, UserError } from '../../core/errors.js';
import type { RandomSource } from '../../core/random.js';
import type { ServiceDatabase } from '../db/database.js';
import type { TokensTable } from '../db/schema.js';
import { isoTime, newRecordId } from '../ids.js';
import { isEndedJobState } from '../../contract/job-states.js';
import type { Principal } from './principal.js';
import { DEFAULT_TOKEN_LIFETIME_MS, MAX_TOKEN_LIFETIME_MS, isRole, type Role } from './roles.js';
import { hashSecret, newSecret, secretKind } from './secret-format.js';
import { JobEndedError, TokenExpiredError, TokenRenewedError, TokenRevokedError } from './token-errors.js';

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
  /** For an agent token's renewal: the token it replaces once the renewal is confirmed. */
  readonly replacesTokenId?: string;
}

/**
 * Why a token was revoked: `revoked` by an admin or tenant-admin; `renewed`, an agent token replaced by its
 * confirmed renewal; `superseded`, a renewal never confirmed and replaced by a later renewal of the same
 * token; `job-ended`, a job token whose job ended (src/contract/job-states.ts, ENDED_JOB_STATES).
 */
export const REVOKE_REASONS = ['revoked', 'renewed', 'superseded', 'job-ended'] as const;
export type RevokeReason = (typeof REVOKE_REASONS)[number];

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
  readonly revokedReason: RevokeReason | null;
  /** The token this one replaces (an agent token made by a renewal), or null. */
  readonly replacesTokenId: string | null;
}

/** A token just created, with its secret: shown once, then only its hash remains. */
export interface IssuedToken extends TokenRecord {
  readonly token: string;
}

/** `active`, or why the token authenticates nothing any more; revoked wins over expired. */
export type TokenState = 'active' | 'expired' | 'revoked';

/** A token in a listing: its state at the service's time and the names of what it is scoped to. */
export interface TokenListing extends TokenRecord {
  readonly state: TokenState;
  readonly tenantName: string | null;
  /** The machine's hostname (agent tokens). */
  readonly machineName: string | null;
  readonly vaultName: string | null;
  readonly jobName: string | null;
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
    revoked_reason: null,
    created_by_token_id: spec.createdByTokenId ?? null,
    replaces_token_id: spec.replacesTokenId ?? null,
  };
  await deps.db.insertInto('tokens').values(row).execute();
  return { ...toTokenRecord(row), token };
}

/**
 * The principal a bearer secret stands for. Throws `AuthenticationError` when the secret is not a Ferry
 * token (a registration code is not one either) or is unknown; `TokenRevokedError`, `TokenRenewedError` or
 * `JobEndedError` when it was revoked (by the reason recorded); `TokenExpiredError` when it expired at
 * `clock.now()`; and `JobEndedError` for a job token whose job has ended, even if the token was not revoked
 * (decided from the job's recorded state, in case anything ended a job without revoking its tokens).
 */
export async function principalForSecret(deps: Pick<TokenDeps, 'db' | 'clock'>, secret: string): Promise<Principal> {
  const kind = secretKind(secret);
  if (kind === undefined || kind === 'registration') {
    throw new AuthenticationError('the bearer token is not a Ferry token (they start with fry_)');
  }
  const row = await deps.db.selectFrom('tokens').selectAll().where('token_hash', '=', hashSecret(secret)).executeTakeFirst();
  if (row === undefined || row.role !== kind) throw new AuthenticationError('unknown token: create a new one');
  return principalOfRow(deps, row);
}

/**
 * The principal of the token with this id, checked exactly like {@link principalForSecret} checks a secret
 * (revoked, expired, ended job): how a portal session, which keeps the id of the token it was opened with,
 * authenticates each request. `AuthenticationError` for an unknown id.
 */
export async function principalForTokenId(deps: Pick<TokenDeps, 'db' | 'clock'>, tokenId: string): Promise<Principal> {
  const row = await deps.db.selectFrom('tokens').selectAll().where('id', '=', tokenId).executeTakeFirst();
  if (row === undefined) throw new AuthenticationError('unknown token: create a new one');
  return principalOfRow(deps, row);
}

async function principalOfRow(deps: Pick<TokenDeps, 'db' | 'clock'>, row: TokensTable): Promise<Principal> {
  if (!isRole(row.role)) throw new AuthenticationError('unknown token: create a new one');
  if (row.revoked_at !== null) throw await revokedError(deps.db, row, row.revoked_at);
  if (row.expires_at <= isoTime(deps.clock.now())) {
    throw new TokenExpiredError(
      row.role === 'agent' ? `this agent token expired at ${row.expires_at}: ${REGISTER_AGAIN}` : `this ${row.role} token expired at ${row.expires_at}: ask for a new one`,
    );
  }
  if (row.role === 'job') {
    const ended = await endedJobError(deps.db, row.job_id);
    if (ended !== undefined) throw ended;
  }
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

/** What a machine whose agent token no longer works must do. */
const REGISTER_AGAIN =
  'register this machine again (a tenant-admin makes a credentials file with `ferry vault credentials`; then remove agent.json and run `ferry register --credentials FILE`)';

async function revokedError(db: ServiceDatabase, row: TokensTable, at: string): Promise<AuthenticationError> {
  switch (row.revoked_reason) {
    case 'renewed':
    case 'superseded':
      return new TokenRenewedError(
        `this agent token was replaced at ${at} by a renewal: the agent keeps the new one in its agent.json; run the command again (if this machine lost agent.json, ${REGISTER_AGAIN})`,
      );
    case 'job-ended':
      return (await endedJobError(db, row.job_id)) ?? new JobEndedError(`this job token was revoked at ${at} when its job ended`);
    default:
      return new TokenRevokedError(
        row.role === 'agent' ? `this agent token was revoked at ${at}: ${REGISTER_AGAIN}` : `this ${row.role} token was revoked at ${at}: ask for a new one`,
      );
  }
}

/** What is left to do with a job that ended in each state, for the job token's refusal. */
const AFTER_JOB_ENDED: Readonly<Record<string, string>> = {
  Closed: 'its data was adopted into the vault and the job closed: nothing is left to do with this token',
  Cancelled: 'a new offline seed needs a new import job (`ferry seed start`)',
  Deleted: 'it had no carrier and tracking number by its tracking deadline; a new offline seed needs a new import job (`ferry seed start`)',
  Failed: 'its ingest brought no data; a new offline seed needs a new import job (`ferry seed start`)',
};

/** The refusal of a job token whose job has ended (or no longer exists), else undefined. */
async function endedJobError(db: ServiceDatabase, jobId: string | null): Promise<JobEndedError | undefined> {
  const job = jobId === null ? undefined : await db.selectFrom('import_jobs').select(['name', 'state', 'updated_at']).where('id', '=', jobId).executeTakeFirst();
  if (job === undefined) return new JobEndedError('this job token belongs to no import job');
  if (!isEndedJobState(job.state)) return undefined;
  return new JobEndedError(`this job token's job "${job.name}" was ${job.state} at ${job.updated_at}, so the token no longer works: ${AFTER_JOB_ENDED[job.state] ?? ''}`);
}

/** The token with this id, or `NotFoundError`. */
export async function getToken(db: ServiceDatabase, id: string): Promise<TokenRecord> {
  const row = await db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst();
  if (row === undefined) throw new NotFoundError(`token ${id} not found`);
  return toTokenRecord(row);
}

/**
 * Tokens of every role, newest first, with their state at `clock.now()` and the names of their tenant,
 * machine, vault and job; only those of `tenantId` (its tenant-admin, agent and job tokens) when given,
 * only the one with `id` when given.
 */
export async function listTokens(deps: Pick<TokenDeps, 'db' | 'clock'>, filter: { tenantId?: string; id?: string } = {}): Promise<TokenListing[]> {
  let query = deps.db
    .selectFrom('tokens')
    .leftJoin('tenants', 'tenants.id', 'tokens.tenant_id')
    .leftJoin('machines', 'machines.id', 'tokens.machine_id')
    .leftJoin('vaults', 'vaults.id', 'tokens.vault_id')
    .leftJoin('import_jobs', 'import_jobs.id', 'tokens.job_id')
    .selectAll('tokens')
    .select(['tenants.name as tenant_name', 'machines.hostname as machine_name', 'vaults.name as vault_name', 'import_jobs.name as job_name']);
  if (filter.tenantId !== undefined) query = query.where('tokens.tenant_id', '=', filter.tenantId);
  if (filter.id !== undefined) query = query.where('tokens.id', '=', filter.id);
  const rows = await query.orderBy('tokens.created_at', 'desc').orderBy('tokens.id').execute();
  const now = isoTime(deps.clock.now());
  return rows.map((row) => ({
    ...toTokenRecord(row),
    state: row.revoked_at !== null ? 'revoked' : row.expires_at <= now ? 'expired' : 'active',
    tenantName: row.tenant_name,
    machineName: row.machine_name,
    vaultName: row.vault_name,
    jobName: row.job_name,
  }));
}

/**
 * Revokes the token: from now on it authenticates nothing. Idempotent: revoking a revoked token keeps the
 * first revocation time and reason. `NotFoundError` for an unknown id.
 */
export async function revokeToken(deps: Pick<TokenDeps, 'db' | 'clock'>, id: string, reason: RevokeReason = 'revoked'): Promise<TokenRecord> {
  await deps.db
    .updateTable('tokens')
    .set({ revoked_at: isoTime(deps.clock.now()), revoked_reason: reason })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .execute();
  return getToken(deps.db, id);
}

/**
 * Revokes every token of import job `jobId` (reason `job-ended`) at `now`; run it in the transaction that
 * ends the job. Returns the ids revoked (none when they were revoked already).
 */
export async function revokeJobTokens(db: ServiceDatabase, jobId: string, now: number): Promise<string[]> {
  const live = await db.selectFrom('tokens').select('id').where('job_id', '=', jobId).where('revoked_at', 'is', null).execute();
  if (live.length === 0) return [];
  await db
    .updateTable('tokens')
    .set({ revoked_at: isoTime(now), revoked_reason: 'job-ended' })
    .where('job_id', '=', jobId)
    .where('revoked_at', 'is', null)
    .execute();
  return live.map((t) => t.id);
}

/**
 * The first step of an agent token's renewal: a new agent token for the principal's machine, vault and
 * tenant (as recorded for the presented token, never as a client says), living `lifetimeMs`, which
 * replaces the presented one once {@link confirmTokenRenewal} is called with the new token. The presented
 * token keeps working until then, so an agent that crashes before it stored the new token loses nothing;
 * an earlier renewal of the same token that was never confirmed is revoked (`superseded`): its secret was
 * lost. `ForbiddenError` for any other role. Needs the root database (runs its own transaction).
 */
export async function renewAgentToken(deps: TokenDeps, principal: Principal, lifetimeMs: number): Promise<IssuedToken> {
  const { tenantId, machineId, vaultId } = principal;
  if (principal.role !== 'agent' || tenantId === undefined || machineId === undefined || vaultId === undefined) {
    throw new ForbiddenError('only an agent token renews itself; other tokens are created anew (ferry token create)');
  }
  return deps.db.transaction().execute(async (trx) => {
    await trx
      .updateTable('tokens')
      .set({ revoked_at: isoTime(deps.clock.now()), revoked_reason: 'superseded' })
      .where('replaces_token_id', '=', principal.tokenId)
      .where('revoked_at', 'is', null)
      .execute();
    return issueToken(
      { ...deps, db: trx },
      { role: 'agent', tenantId, machineId, vaultId, lifetimeMs, createdByTokenId: principal.tokenId, replacesTokenId: principal.tokenId },
    );
  });
}

/** How far back a confirmation follows the chain of renewals (a renewal of a renewal never confirmed). */
const MAX_RENEWAL_CHAIN = 10;

/**
 * The second step of a renewal, called with the new token once the agent stored it: revokes (`renewed`)
 * the token it replaces, and any older one that token replaced and that still works. Idempotent: a
 * repeated confirmation, or one by a token that replaces nothing, revokes nothing. Returns the ids revoked.
 */
export async function confirmTokenRenewal(deps: Pick<TokenDeps, 'db' | 'clock'>, principal: Principal): Promise<string[]> {
  const revoked: string[] = [];
  let current: string | null = principal.tokenId;
  for (let depth = 0; depth < MAX_RENEWAL_CHAIN && current !== null; depth++) {
    const row: { replaces_token_id: string | null } | undefined = await deps.db.selectFrom('tokens').select('replaces_token_id').where('id', '=', current).executeTakeFirst();
    const replaced: string | null = row?.replaces_token_id ?? null;
    if (replaced === null) break;
    const result = await deps.db
      .updateTable('tokens')
      .set({ revoked_at: isoTime(deps.clock.now()), revoked_reason: 'renewed' })
      .where('id', '=', replaced)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (result.numUpdatedRows === 1n) revoked.push(replaced);
    current = replaced;
  }
  return revoked;
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
    revokedReason: isRevokeReason(row.revoked_reason) ? row.revoked_reason : null,
    replacesTokenId: row.replaces_token_id,
  };
}

function isRevokeReason(value: string | null): value is RevokeReason {
  return value !== null && (REVOKE_REASONS as readonly string[]).includes(value);
}
